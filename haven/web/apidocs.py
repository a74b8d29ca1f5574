"""``/api/v1/docs``: the API's reference, rendered once from its OpenAPI document.

A page of our own rather than Swagger UI: it needs no third-party script or CDN (Haven's pages load
nothing from elsewhere), works without JavaScript, and passes the same accessibility checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Final

from haven.web.pagecache import HTML, PUBLIC_PAGE, CachedResponse, build
from haven.web.templates import Renderer, render_bilingual

PATH: Final = "/api/v1/docs"
OPENAPI: Final = "/api/v1/openapi.json"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    example: str  # a request body, as pretty JSON
    responses: list[tuple[str, str]]  # (status, description)


def _example(openapi: dict[str, Any], operation: dict[str, Any]) -> str:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
    schema = content.get("schema", {})
    ref = schema.get("$ref", "")
    if ref:
        schema = openapi["components"]["schemas"][ref.rsplit("/", 1)[1]]
    examples = schema.get("examples") or []
    return json.dumps(examples[0], indent=2, ensure_ascii=False) if examples else ""


def operations(openapi: dict[str, Any]) -> list[Operation]:
    found = []
    for path, methods in openapi["paths"].items():
        for method, operation in methods.items():
            found.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    summary=operation.get("summary", ""),
                    description=operation.get("description", ""),
                    example=_example(openapi, operation),
                    responses=[
                        (code, spec.get("description", "")) for code, spec in operation["responses"].items()
                    ],
                )
            )
    return found


def render_docs(renderer: Renderer, base_url: str, openapi: dict[str, Any]) -> CachedResponse:
    html = render_bilingual(
        renderer,
        "api_intro",
        page="apidocs.html",
        column_context={"openapi_href": OPENAPI},
        operations=operations(openapi),
        openapi_href=OPENAPI,
        description="Haven API: CLB conversion, CRS score, FSW grid and Express Entry eligibility.",
        canonical=base_url + PATH,
    )
    return build(html.encode(), content_type=HTML, cache_control=PUBLIC_PAGE)
