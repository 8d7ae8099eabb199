"""R-IF-2: the browsable API docs render in a real browser under the production CSP (no CDN)."""

import pytest


@pytest.mark.django_db(transaction=True)
def test_R_IF_2_docs_render_under_csp_without_cdn(browser, live_server):
    page = browser.new_page()
    try:
        violations, outside = [], []
        page.on("console", lambda m: "Content Security Policy" in m.text and violations.append(m.text))
        page.on(
            "request",
            lambda r: r.url.startswith(live_server.url) or r.url.startswith("data:") or outside.append(r.url),
        )
        page.goto(f"{live_server.url}/api/docs/")
        page.wait_for_selector(".swagger-ui .info .title", timeout=15_000)
        assert "QCare API" in page.inner_text(".swagger-ui .info .title")
        page.wait_for_selector("text=/api/samples/", timeout=15_000)
        assert outside == []  # every asset from our own /static/
        assert violations == []
    finally:
        page.close()
