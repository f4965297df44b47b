"""Submission (报送): a unit's clerk sends an xlsx or CSV and sees at once what the daily run will decide.

``submit.receive`` is the whole flow, used by the page and ``POST /api/uploads``:

1. ``guard``: size, type by content, zip bombs, the path below the unit's own folder
   (``<unit code>/``); a refusal is a rejected report with the reason;
2. the bytes are kept (``HOME/uploads/files/``) and checked by ``report.check``, the ingestion's
   own reading of one file (kind, rows read / loaded / rejected with reasons, 合计 mismatches);
3. a file that loads (even with some rejected rows: the spec loads the rest) is placed in the
   inbox atomically (``store.place``); a file rejected as a whole is not placed;
4. every upload is logged (``store.log_upload``), refused ones too.

``annotate`` gives the file back with a 问题说明 column and the bad cells highlighted;
``templates`` builds the blank xlsx per kind. Who may do what is decided by the routes
(``fundwatch.review``) through ``fundwatch.scope``.
"""
