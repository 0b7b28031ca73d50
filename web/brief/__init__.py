"""The command-centre brief (简报): a :class:`~web.brief.content.Brief` rendered as an A4 PDF in
Chinese (``pdf.render_brief_pdf``) and its tables as XLSX (``workbook.render_brief_xlsx``), its
map drawn by onemap itself over the offline basemap (``map_image.render_map_image``). The
renderers are pure: what the brief says is composed before (``compose.compose_brief``)."""
