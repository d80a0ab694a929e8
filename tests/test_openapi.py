"""Issue 20: `/api/v1` is described by an OpenAPI 3.1 document, and what the real app answers
(successes, errors and pagination headers) is validated against it with openapi-core; the
document itself is validated with openapi-spec-validator. List pages walked to the end miss
and repeat nothing while learners are inserted between pages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_spec_validator import validate

from bot.admin.api import encode_cursor, openapi_document
from bot.reports import Reports
from tests.admin_app import TOKEN, make_app

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def parts(tmp_path: Path):
    extra = tmp_path / "content" / "extra"  # a second course, for the courses' pages
    extra.mkdir(parents=True)
    (extra / "course.yaml").write_text("title: Extra\nenroll: ['extra please']\n")
    (extra / "01-one.md").write_text("---\ntitle: One\n---\nBody.\n")
    return make_app(tmp_path)


@pytest.fixture(scope="module")
def spec() -> OpenAPI:
    return OpenAPI.from_dict(openapi_document())


def checked(client, spec: OpenAPI, url: str, headers: dict[str, str] | None = None):
    """GET `url` and validate the response (status, headers, body) against the document."""
    response = client.get(url, headers=AUTH if headers is None else headers)
    spec.validate_response(
        WerkzeugOpenAPIRequest(response.request), WerkzeugOpenAPIResponse(response)
    )
    return response


def test_the_document_is_valid_openapi_3_1():
    document = openapi_document()
    validate(document)  # raises on any error
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_api_route_is_documented_and_nothing_else(parts):
    app, _, _ = parts
    served = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
    }
    documented = openapi_document()["paths"]
    assert served == set(documented)
    for path, operations in documented.items():
        codes = set(operations["get"]["responses"])
        assert "401" in codes, path
        assert {"400", "404"} & codes or path == "/openapi.json", path


def test_the_document_is_served_behind_the_token(parts, spec):
    app, _, _ = parts
    client = app.test_client()
    assert checked(client, spec, "/api/v1/openapi.json").get_json() == openapi_document()
    refused = checked(client, spec, "/api/v1/openapi.json", headers={})
    assert refused.status_code == 401


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/courses", 200),
        ("/api/v1/courses?limit=1", 200),
        ("/api/v1/courses?limit=0", 400),
        ("/api/v1/courses?cursor=bm9wZQ", 400),
        ("/api/v1/courses/demo/report", 200),
        ("/api/v1/courses/extra/report", 200),
        ("/api/v1/courses/nope/report", 404),
        ("/api/v1/learners", 200),
        ("/api/v1/learners?course=demo&status=completed", 200),
        ("/api/v1/learners?status=overdue&limit=1", 200),
        ("/api/v1/learners?limit=2", 200),
        ("/api/v1/learners?status=bogus", 400),
        ("/api/v1/learners?limit=10001", 400),
        ("/api/v1/learners?cursor=%%%", 400),
        (f"/api/v1/learners?cursor={encode_cursor(['only-one'])}", 400),
    ],
)
def test_real_responses_match_the_document(parts, spec, url, status):
    app, _, _ = parts
    client = app.test_client()
    assert checked(client, spec, url).status_code == status
    assert checked(client, spec, url, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_a_full_page_names_the_next_one_and_the_last_does_not(parts, spec):
    app, _, _ = parts
    client = app.test_client()
    first = checked(client, spec, "/api/v1/courses?limit=1")
    assert [c["id"] for c in first.get_json()] == ["demo"]
    cursor = first.headers["X-Next-Cursor"]
    assert first.headers["Link"] == f'</api/v1/courses?limit=1&cursor={cursor}>; rel="next"'
    last = checked(client, spec, f"/api/v1/courses?limit=1&cursor={cursor}")
    assert [c["id"] for c in last.get_json()] == ["extra"]
    assert "Link" not in last.headers and "X-Next-Cursor" not in last.headers
    whole = checked(client, spec, "/api/v1/courses?limit=2")
    assert len(whole.get_json()) == 2 and "Link" not in whole.headers


def learner(key: str, name: str) -> dict:
    return {
        "_id": key,
        "name": name,
        "channel": key.split(":")[0],
        "version": 0,
        "outbox": [],
        "processed": [],
        "progress": {"demo": {"current": "s1", "completed": [], "started_at": None}},
    }


def test_walking_the_pages_while_learners_enroll_misses_and_repeats_nothing(parts, spec):
    """25 learners (×1 course, 3 seeded with more) walked 4 rows a page by following `Link`;
    between pages new learners enroll both before and after the cursor's position. Every
    row that existed at the start is seen exactly once, and no row twice."""
    app, services, _ = parts
    client = app.test_client()
    services.store.learners.collection.insert_many(
        [learner(f"web:walk-{n:03d}", f"Walker {n}") for n in range(0, 50, 2)]
        + [  # learners without a row in between, and one in two courses
            {**learner(f"web:walk-{n:03d}x", "Rowless"), "progress": {}} for n in range(0, 50, 5)
        ]
        + [{"_id": "web:walk-010y", "name": "No progress", "version": 0}]
        + [{**learner("web:walk-020z", "Both"), "progress": {"demo": {}, "extra": {}}}]
    )
    before = {(r["key"], r["course"]) for r in client.get("/api/v1/learners", headers=AUTH).json}
    seen: list[tuple[str, str]] = []
    url: str | None = "/api/v1/learners?limit=4"
    inserted = 0
    while url:
        page = checked(client, spec, url)
        rows = page.get_json()
        assert 0 < len(rows) <= 4
        seen += [(r["key"], r["course"]) for r in rows]
        link = page.headers.get("Link")
        url = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1) if link else None
        # one that sorts before the cursor (already walked past) and one after it
        services.store.learners.collection.insert_many(
            [
                learner(f"web:walk-{inserted * 2 + 1:03d}", f"Late {inserted}"),
                learner(f"whatsapp:+1999{inserted:04d}", f"Later {inserted}"),
            ]
        )
        inserted += 1
    assert len(seen) == len(set(seen)), "a row came twice"
    assert before <= set(seen), f"missed: {before - set(seen)}"
    assert inserted >= 8  # it really was walked page by page
    assert seen == sorted(seen)


def test_a_cursor_keeps_the_filters_it_came_with(parts, spec):
    app, services, _ = parts
    client = app.test_client()
    services.store.learners.collection.insert_many(
        [learner(f"web:f-{n}", f"F {n}") for n in range(5)]
    )
    url: str | None = "/api/v1/learners?course=demo&status=not_started&limit=2"
    statuses = []
    while url:
        page = checked(client, spec, url)
        statuses += [r["status"] for r in page.get_json()]
        link = page.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        assert url is None or "course=demo&status=not_started" in url
    assert len(statuses) == 6 and set(statuses) == {"not_started"}


@pytest.mark.parametrize("query", ["", "course=extra&", "course=demo&", "status=not_started&"])
def test_pages_of_one_row_add_up_to_every_row(parts, spec, query):
    """One row a page (a learner's courses split across pages), with and without filters:
    the same rows as the unpaged report, in key order."""
    app, services, _ = parts
    services.store.learners.collection.insert_many(
        [
            {**learner("web:both", "Both"), "progress": {"demo": {}, "extra": {}}},
            {**learner("web:none", "None"), "progress": {}},
            learner("slack:T1:U9", "Zed"),
        ]
    )
    client = app.test_client()
    url: str | None = f"/api/v1/learners?{query}limit=1"
    seen = []
    while url:
        page = checked(client, spec, url)
        seen += [(r["key"], r["course"]) for r in page.get_json()]
        link = page.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
    filters = dict(part.split("=") for part in query.split("&") if part)
    everything = Reports(services.store).learner_rows(services.conversations.clock(), **filters)
    assert seen == sorted((r["key"], r["course"]) for r in everything)
    assert seen
