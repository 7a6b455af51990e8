from flask.testing import FlaskClient

from tests.conftest import load_fixture


def test_renders_invoice(any_client: FlaskClient) -> None:
    response = any_client.post("/v1/render", json=load_fixture("invoice/capsules-nl"))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["id"].startswith("msg_")
    again = any_client.get(f"/v1/messages/{body['id']}")
    assert again.json == body
