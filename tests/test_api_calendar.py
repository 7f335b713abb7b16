"""The calendar over HTTP: read a year, enter its schedule (admin), preview and apply its changes."""
from tests.helpers import ITEM


def test_enter_a_schedule_preview_and_apply_over_http(server):
    admin, sec = server.login("admin"), server.login("sec")
    year = sec.get("/api/v1/calendar/2027").json()
    assert year["status"] == "estimated" and year["entered"] is None
    assert "2027-02-05" in year["days_off"] and year["working_weekends"] == []
    assert admin.get("/api/v1/calendar/2027/changes").status_code == 404  # nothing entered yet

    refused = admin.request("PUT", "/api/v1/calendar/2027", json={
        "holidays": ["2027-02-20", "2028-01-01"], "working_days": ["2027-02-20", "2027-02-22"]})
    assert refused.status_code == 400
    assert sorted(p["code"] for p in refused.json()["error"]["details"]) == [
        "holiday_and_working", "outside_year", "working_day_not_weekend"]
    assert sec.request("PUT", "/api/v1/calendar/2027", json={"holidays": [], "working_days": []}).status_code == 403
    assert admin.get("/api/v1/calendar/2027").json()["entered"] is None  # nothing saved

    assert sec.post("/api/v1/items", {**ITEM, "deadline": "2027-06-30"}).status_code == 201  # due 2026-11-25
    entered = admin.request("PUT", "/api/v1/calendar/2027", json={
        "holidays": ["2027-02-06", "2027-02-11"], "working_days": ["2027-02-20"]})
    assert entered.status_code == 200, entered.text
    body = entered.json()
    assert body["status"] == "entered" and body["entered"]["entered_by"] == "admin"
    assert body["working_weekends"] == ["2027-02-20"] and body["days_off"] == ["2027-02-11"]
    assert [n["code"] for n in body["notes"]] == ["holiday_on_weekend"]

    preview = admin.get("/api/v1/calendar/2027/changes").json()
    assert preview["moves"] == [] and not preview["applied"]  # the open task falls due in 2026
    applied = admin.post("/api/v1/calendar/2027/changes/apply", {"schedule_id": preview["schedule_id"]})
    assert applied.status_code == 200 and applied.json() == {"moved": [], "skipped": []}
    again = admin.post("/api/v1/calendar/2027/changes/apply", {"schedule_id": preview["schedule_id"]})
    assert again.status_code == 409 and again.json()["error"]["details"][0]["code"] == "calendar_applied"
    assert admin.get("/api/v1/calendar/1800").status_code == 404
