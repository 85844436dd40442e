"""The application behind `evokt search`: specs, strategies, the search
pipeline, export, progress, distribution and the command line."""
