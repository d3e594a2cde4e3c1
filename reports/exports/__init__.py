"""Files for managers and scripts: the incident list as CSV and XLSX, the period report as XLSX and PDF,
and one incident's management report as a page and a PDF (the seeds' step 10)."""
