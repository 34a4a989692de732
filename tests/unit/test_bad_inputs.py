"""The bad-input corpus (``tests/bad_inputs``): every broken config file, dict or builder
call ends in an envoykit error that says where — a field path, a builder call or
``file:line`` — and never in a bare traceback from pydantic, PyYAML or the standard library.

Pure Python: envoykit's own checks only (``validate(..., envoy=False)``). Cases that only
the real envoy refuses (``stage="envoy"``) and known library bugs are strict xfails here,
with the reason; ``tests/integration/test_bad_inputs_live.py`` shows that envoy's
``--mode validate`` still refuses the former before anything is applied.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from envoykit.errors import EnvoykitError
from tests.bad_inputs.cases import CASES, FILES, Case, Env, apply


def _marks(case: Case) -> list[pytest.MarkDecorator]:
    if case.bug:
        return [pytest.mark.xfail(strict=True, reason=f"library bug: {case.bug}")]
    if case.gap:
        return [pytest.mark.xfail(strict=True, reason=f"missing check (envoy refuses it: "
                                  f"{case.envoy_says!r}): {case.gap}")]
    return []


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Env:
    return Env.make(tmp_path_factory.mktemp("bad-inputs"))


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=_marks(c)) for c in CASES])
def test_bad_input_is_an_envoykit_error_that_says_where(case: Case, env: Env) -> None:
    with pytest.raises(EnvoykitError) as info:  # anything else propagates: a bare traceback
        apply(case, env)
    message = str(info.value)
    assert isinstance(info.value, case.error), f"{type(info.value).__name__}: {message}"
    assert case.where in message, f"error does not say {case.where!r}:\n{message}"
    assert "errors.pydantic.dev" not in message  # pydantic's raw rendering leaked through
    assert "Traceback" not in message


def test_corpus_is_large_and_well_formed() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) >= 50
    assert len(set(ids)) == len(ids), "case ids must be unique"
    assert {c.kind for c in CASES} == {"file", "dict", "builder"}
    for case in CASES:
        assert case.where, case.id
        if case.stage == "envoy":
            assert case.gap and case.envoy_says, f"{case.id}: say why and what envoy says"


def test_every_data_file_is_a_case() -> None:
    used = {c.file for c in CASES if c.kind == "file"}
    on_disk = {p.name for p in Path(FILES).iterdir() if p.is_file()}
    assert on_disk <= used, f"data files without a case: {sorted(on_disk - used)}"


def test_the_corpus_base_config_is_itself_valid(env: Env) -> None:
    """The cases break a config that is fine to begin with (else they prove nothing)."""
    from envoykit.validation import validate

    bootstrap = validate(env.edge(), envoy=False)
    assert bootstrap.static_resources is not None
    assert len(bootstrap.static_resources.listeners or []) == 2


def test_http_and_https_on_port_zero_do_not_clash(env: Env) -> None:
    """Port 0 means two distinct ephemeral ports: not a clash (was a false positive)."""
    from envoykit import EdgeProxy

    edge = (EdgeProxy().site("a.example.com", "127.0.0.1:1", cert=(env.cert_a, env.key_a))
            .https(0).http(0))
    assert edge.build().static_resources is not None


LAZY_SHADOWING = """
import envoykit.validation          # any code path that imports the module first
import envoykit.load, envoykit.render, envoykit.builder
from envoykit import check, load_bootstrap, to_yaml, validate
for f in (check, load_bootstrap, to_yaml, validate):
    assert callable(f), f"envoykit.{f!r} is not the function"
"""


def test_public_functions_are_functions_whatever_was_imported_first() -> None:
    """Regression: the lazy ``envoykit.__getattr__`` once returned the *module*
    ``envoykit.validate`` for ``from envoykit import validate`` after that module had been
    imported (fixed by renaming the module to ``envoykit.validation``)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", LAZY_SHADOWING], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
