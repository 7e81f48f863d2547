"""Media of exported messages: the public interface used by the parse run.

- `describe_media(message)` → `MediaInfo(kind, known_size, original_name, mime_type)` or None.
- `MediaDownloader(...).download(message)` / `.download_many(messages)` → `media_files` items;
  `.stats` counts saved, skipped_by_size, dedup_hits, errors.

Item shapes (export.json `media_files`):
- stored:    {"type", "path": "media/<kind>s/<id>_<name>", "filename", "size", "sha256"}
- dedup hit: the same keys, `path`/`filename` of the copy already stored (no second file)
- skipped:   {"type", "path": null, "filename": null, "size": known size, "skipped": "max_media_size"}
- failed:    {"type", "path": null, "filename": null, "error": "file_reference_expired" |
             "download_timeout" | "retry_exhausted"}
"""
from __future__ import annotations

from tgexport.media_download import SKIPPED_BY_SIZE, MediaDownloader, MediaStats, env_media_timeout
from tgexport.media_kind import DOCUMENT, KIND_DIRS, PHOTO, VIDEO, MediaInfo, describe_media, kind_for_mime
from tgexport.media_names import sanitise_name, stored_name

__all__ = [
    "DOCUMENT", "KIND_DIRS", "PHOTO", "SKIPPED_BY_SIZE", "VIDEO", "MediaDownloader", "MediaInfo",
    "MediaStats", "describe_media", "env_media_timeout", "kind_for_mime", "sanitise_name", "stored_name",
]
