"""Intake: seed photos into a workspace in the release's folder layout (``WORK/Seed_Images``).

Photos come from a folder (decoded strictly, turned upright, converted to sRGB, square-cropped,
with provenance), from the photos bundled for the offline demo, from a URL manifest (CSV, TSV,
JSONL, Parquet) downloaded in waves with retries, deadlines and near-duplicate removal, or from
the release itself: a copy of its folders, or its Hub Parquet shards, whose paintings are matched
back to their photos when rows carry no path.
"""
