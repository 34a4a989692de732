"""``envoy -c envoy-demo.yaml --config-yaml "$(cat envoy-override.yaml)"``: override part of a
config at launch (the seed adds an admin interface on 127.0.0.1:9902 this way).

    python examples/config_yaml_override.py

``--config-yaml`` is merged over the ``-c`` config (scalars replaced, messages merged, lists
appended). The supervisor takes it as ``config_yaml=`` (YAML text or a dict) and passes it on
every launch and hot restart, and to ``--mode validate``. The base config here has no admin,
like the seed's demo; the override adds one on a free port of 127.0.0.1 (the seed: 9902).
"""

from __future__ import annotations

import sys

import httpx
from _common import save_config, show, title, workdir

from envoykit import EdgeProxy
from envoykit.process import Supervisor
from envoykit.testing import free_port
from envoykit.testing.upstream import Upstream
from envoykit.validation import envoy_validate_file

OVERRIDE = """\
admin:
  address:
    socket_address:
      address: 127.0.0.1
      port_value: {port}
"""


def main() -> int:
    with workdir("config_yaml_override") as work, Upstream("server-a") as server_a:
        # The base config: one site, and no admin interface at all.
        base = EdgeProxy("demo").site("a.example.com", server_a.address).http(0).no_admin()
        config_file = save_config(work, "envoy-demo", base)
        admin_port = free_port()
        override = OVERRIDE.format(port=admin_port)  # the content of envoy-override.yaml
        print(f"envoy-override.yaml:\n{override}")

        title("envoy --mode validate -c envoy-demo.yaml --config-yaml ...")
        output = envoy_validate_file(config_file, extra_args=["--config-yaml", override])
        show("envoy says", next(line for line in output.splitlines() if "OK" in line))

        title("envoy -c envoy-demo.yaml --config-yaml \"$(cat envoy-override.yaml)\"")
        with Supervisor(config_file, config_yaml=override, log_level="warning") as envoy:
            show("admin address (from the override)", envoy.admin_address)
            assert envoy.admin_address == f"127.0.0.1:{admin_port}"

            # curl -v localhost:9902  → the admin home page
            with httpx.Client() as client:
                home = client.get(f"http://{envoy.admin_address}/")
                show(f"GET http://{envoy.admin_address}/", f"{home.status_code} "
                     f"{home.headers['content-type']}, {len(home.text)} bytes")
                assert home.status_code == 200

                # what envoy runs is the merge: the admin block is in its bootstrap now
                with envoy.admin() as admin:
                    merged = admin.config_dump(mask="bootstrap.admin").bootstrap
                show("bootstrap.admin in /config_dump", merged["admin"]["address"])

                # and the site still works
                reply = client.get(envoy.url_of("http"), headers={"host": "a.example.com"})
                show("GET http://a.example.com/", f"{reply.status_code} from "
                     f"{reply.headers['x-upstream']}")
                assert reply.status_code == 200
    return 0


if __name__ == "__main__":
    sys.exit(main())
