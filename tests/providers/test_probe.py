"""`doctor`'s free call: an HTTP 404 (or 405) from the endpoint is a wrong endpoint,
whatever its body says, never "authenticated" nor "accepted the credentials"."""

from __future__ import annotations

import httpx
import pytest

from reconciler.providers import probe
from tests.providers.helpers import Script, make_unisound, make_xingyun, vendor_error

pytestmark = pytest.mark.anyio
MAKERS = {"xingyun": (make_xingyun, 30004), "unisound": (make_unisound, 23910)}


@pytest.mark.parametrize("vendor", sorted(MAKERS))
@pytest.mark.parametrize("status", [404, 405])
@pytest.mark.parametrize("body", ["not-found code", "other code", "plain text"])
async def test_a_404_is_a_wrong_endpoint_whatever_its_body(vendor, status, body):
    make, not_found = MAKERS[vendor]
    answer = {"not-found code": vendor_error(not_found, status=status),
              "other code": vendor_error(30005 if vendor == "xingyun" else 23903, status=status),
              "plain text": httpx.Response(status, text="Not Found")}[body]
    provider = make(Script(answer))
    try:
        result = await provider.probe()
    finally:
        await provider.aclose()
    assert result.outcome == probe.NOT_THE_API and not result.authenticated
    assert f"HTTP {status}" in result.detail and "wrong endpoint" in result.detail


async def test_the_not_found_code_with_http_200_still_proves_authentication():
    provider = make_xingyun(Script(vendor_error(30004)))
    try:
        result = await provider.probe()
    finally:
        await provider.aclose()
    assert result.outcome == probe.REACHED and result.authenticated
