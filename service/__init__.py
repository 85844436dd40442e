"""evokt's REST service: searches over HTTP and predictions in TF Serving's format.

Build the application with `evokt.service.app.create_app`; run it with `evokt serve`.
"""
