"""Contracts → typed SDKs and artifacts (docs, dbt sources, warehouse DDL, AsyncAPI)."""
