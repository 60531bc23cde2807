"""Address validation pages: the signed download of a validated file's result (GetValidateFile's FileUrl)."""

from django.http import Http404, HttpResponse

from sending import validation_files


def file_download(request, token: str):
    """The result CSV of a completed validation file, for whoever holds the link while it is valid."""
    job = validation_files.job_from_token(token)
    if job is None:
        raise Http404("This link has expired or the file is gone.")
    response = HttpResponse(validation_files.result_csv(job), content_type="text/csv; charset=utf-8")
    name = job.file_name.rsplit(".", 1)[0].replace('"', "") or "addresses"
    response["Content-Disposition"] = f'attachment; filename="{name}-validated.csv"'
    response["Cache-Control"] = "private, no-store"
    return response
