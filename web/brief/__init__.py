"""The command-centre brief (简报): a :class:`~web.brief.content.Brief` rendered as an A4 PDF in
Chinese (``render_brief_pdf``) and its tables as XLSX (``render_brief_xlsx``). Pure rendering: the
content is composed elsewhere (layers/services) and handed in."""
