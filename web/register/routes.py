"""The household register import: upload, a row-by-row report, then an explicit confirm."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from web import db
from web.accounts.auth import principal_of, staff
from web.audit.logic import record
from web.core.forms import Form
from web.core.i18n import _
from web.core.render import render
from web.core.scope import get_or_404
from web.places.logic import ancestors
from web.places.tables import Place
from web.register import logic

TEMPLATE = "pages/import.html"
MODES = ("all", "good_only")


@dataclass
class ImportPage:
    place: dict
    trail: list[dict]
    error: str = ""  # beside the file field
    alert: str = ""  # above the report
    filename: str = ""
    upload_id: str = ""
    report: logic.Report | None = None
    result: dict | None = None  # counts once imported
    already: bool = False  # a repeated confirm: nothing imported again


async def _import_page(request: Request[Any, Any, Any], place_id: int) -> ImportPage:
    principal = principal_of(request)
    place = await get_or_404(Place, place_id, principal.scope)
    if place["kind"] not in ("grid", "microgrid") or not principal.can("import_register", place["path"]):
        raise NotFoundException()
    trail = [p for p in await ancestors(place["path"]) if principal.scope.covers_path(p["path"])]
    return ImportPage(place=place, trail=trail)


@get("/places/{place_id:int}/import", guards=[staff])
async def import_form(request: Request[Any, Any, Any], place_id: FromPath[int]) -> Response[str]:
    return render(request, TEMPLATE, await _import_page(request, place_id), partial="work")


@post("/places/{place_id:int}/import", guards=[staff])
async def check_upload(request: Request[Any, Any, Any], place_id: FromPath[int]) -> Response[str]:
    """Read and check the file, keep it for the confirm, and write nothing else."""
    page = await _import_page(request, place_id)
    principal = principal_of(request)
    upload = (await request.form()).get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        page.error = _("Choose a CSV or XLSX file to upload.")
        return render(request, TEMPLATE, page, partial="work", status_code=422)
    data = await upload.read(logic.MAX_BYTES + 1)
    try:
        table = await anyio.to_thread.run_sync(logic.read_table, upload.filename, data)
    except logic.FileProblem as problem:
        page.error = problem.message
        return render(request, TEMPLATE, page, partial="work", status_code=422)
    page.report = await logic.check(table, page.place, principal.scope)
    page.filename = upload.filename
    page.upload_id = await logic.save_upload(place_id=place_id, user_id=principal.user_id,
                                             filename=upload.filename, data=data)
    return render(request, TEMPLATE, page, partial="work")


@post("/places/{place_id:int}/import/{upload_id:str}/confirm", guards=[staff])
async def confirm_import(request: Request[Any, Any, Any], place_id: FromPath[int],
                         upload_id: FromPath[str]) -> Response[str]:
    """Import a checked upload: every row ("all", only when none is refused) or only the
    good ones ("good_only", chosen explicitly). A repeated confirm imports nothing."""
    page = await _import_page(request, place_id)
    principal = principal_of(request)
    meta = await logic.load_upload(upload_id)
    if meta is None or meta.get("place_id") != place_id or meta.get("user_id") != principal.user_id:
        raise NotFoundException()
    page.filename, page.upload_id = meta.get("filename", ""), upload_id
    mode = (await Form.read(request)).get("mode")
    if meta.get("done"):
        page.result, page.already = meta["done"], True
        return render(request, TEMPLATE, page, partial="work")
    data = await logic.upload_data(upload_id)
    if data is None:
        raise NotFoundException()
    try:
        table = await anyio.to_thread.run_sync(logic.read_table, page.filename, data)
    except logic.FileProblem as problem:
        page.error = problem.message
        return render(request, TEMPLATE, page, partial="work", status_code=422)
    if not await logic.claim(upload_id):
        meta = await logic.load_upload(upload_id) or {}
        if meta.get("done"):
            page.result, page.already = meta["done"], True
            return render(request, TEMPLATE, page, partial="work")
        page.alert = _("This file is being imported right now. Reload the page in a moment.")
        return render(request, TEMPLATE, page, partial="work", status_code=409)
    counts = None
    try:
        # Checked again inside the write: the database may have changed since the upload.
        async with db.write():
            page.report = report = await logic.check(table, page.place, principal.scope)
            if mode not in MODES:
                page.alert = _("Choose whether to import every row or only the rows that are ready.")
            elif mode == "all" and report.refused:
                page.alert = _("Nothing was imported: some rows are refused. Correct the file and upload it again, "
                               "or import only the rows that are ready.")
            elif not report.good:
                page.alert = _("Nothing was imported: no row is ready.")
            else:
                counts = await logic.import_rows(report)
                await logic.finish(upload_id, counts)  # in the same transaction as the rows
                detail = " ".join(f"{k}={v}" for k, v in counts.items())
                await record(principal, "import", f"place:{place_id}", page.place["path"],
                             f"{detail} mode={mode} file={page.filename}")
    except BaseException:
        await logic.release(upload_id)
        raise
    if counts is None:
        await logic.release(upload_id)
        return render(request, TEMPLATE, page, partial="work", status_code=422)
    page.result = counts
    return render(request, TEMPLATE, page, partial="work")


@get("/register/sample.csv")
async def sample_csv() -> Response[bytes]:
    return Response(logic.SAMPLE_CSV.read_bytes(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="household-register-sample.csv"'})


@get("/register/sample.xlsx")
async def sample_xlsx() -> Response[bytes]:
    return Response(
        logic.sample_xlsx(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": 'attachment; filename="household-register-sample.xlsx"'},
    )


routes = [import_form, check_upload, confirm_import, sample_csv, sample_xlsx]
