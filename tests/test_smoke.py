import httpx


def test_create_and_read_contact(api: httpx.Client) -> None:
    created = api.post("/contacts", json={"role": "user", "email": "Ada@Example.com", "external_id": "a1"})
    assert created.status_code == 200, created.text
    got = api.get(f"/contacts/{created.json()['id']}").json()
    assert got["email"] == "Ada@Example.com"
    assert got["role"] == "user"
