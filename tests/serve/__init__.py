"""Tests of fakescan.serve: the job store, the API on real sample media, a real browser, a killed server."""
