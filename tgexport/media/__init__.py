"""Media of exported messages: the public interface used by the parse run.

- `describe_media(message)` → `MediaInfo(kind, known_size, original_name, mime_type)` or None.
- `MediaDownloader(...).download(message, info=None)` / `.download_many(messages, infos=None)` →
  `media_files` items (pass the `describe_media` results when already known);
  `.stats` counts saved, skipped_by_size, dedup_hits, errors.
- `limit_bytes(mb)` / `exceeds_limit(info, max_bytes)`: the `--max-media-size` rule (larger than).
- `no_file_item(info, **extra)`: the item shapes without a stored file (below).
- `media_changed(old_items, message, file_index)`: an edit replaced the media of an exported message.

Every item also carries `subtype` and `duration` when Telegram gives them (`MediaInfo.item_extras`).

Item shapes (export.json `media_files`):
- stored:    {"type", "path": "media/<kind>s/<id>_<name>", "filename", "size", "sha256"}
- dedup hit: the same keys, `path`/`filename` of the copy already stored (no second file)
- skipped:   {"type", "path": null, "filename": null, "size": known size, "skipped": "max_media_size"}
- failed:    {"type", "path": null, "filename": null, "error": "file_reference_expired" |
             "download_timeout" | "retry_exhausted"}
- dry run:   {"type", "path": null, "filename": null, "size": known size or null}
"""
from __future__ import annotations

from tgexport.media.download import MediaDownloader, exceeds_limit, limit_bytes, no_file_item
from tgexport.media.kind import describe_media, kind_for_mime, media_changed

__all__ = ["MediaDownloader", "describe_media", "exceeds_limit", "kind_for_mime", "limit_bytes", "media_changed",
           "no_file_item"]
