"""Streamed CSV and Parquet exports for BI: `/v1/exports/...`."""
