"""A local Telegram server (MTProto over TCP) that the real Telethon client talks to, for tests and the demo.

Entry points: `server.TestServer`, `session_file.make_session`, and `python -m telegram_test_server`.
"""
