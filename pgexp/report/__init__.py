"""``pgexp-report``: tables and plots from one or more multirun directories."""
