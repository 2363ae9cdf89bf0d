"""The `matching` command line (click, like `market` and `ingest`)."""

from click.testing import CliRunner

from matching.cli import cli


def test_convert_refuses_a_source_that_is_not_nanoes_model(tmp_path):
    bogus = tmp_path / "e5-small-q4.bin"
    bogus.write_bytes(b"not a model")
    result = CliRunner().invoke(cli, ["convert", "--out", str(tmp_path / "model"), "--source", str(bogus)])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and not (tmp_path / "model").exists()


def test_eval_and_fit_check_their_folders_before_loading_anything(tmp_path):
    for command in (["eval", "--csl", str(tmp_path / "missing")], ["fit", "--csl", str(tmp_path / "missing")]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 2 and "does not exist" in result.output, result.output
