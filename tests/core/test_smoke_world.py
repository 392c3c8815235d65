from support import auth


def test_me_answers_for_each_member(client, world):
    for member in (world.operator, world.a_admin, world.b_member):
        response = client.get("/api/v1/me", headers=auth(member))
        assert response.status_code == 200, response.text
        assert response.json()["user"]["id"] == member.actor.user_id
