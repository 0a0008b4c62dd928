"""spiders/loading.py: one resolver for spider and pipeline references, one-line errors."""

import pytest

from scrapepool import SpiderLoadError, UsageError
from scrapepool.spiders.loading import load_pipeline, load_spider, resolve_ref
from scrapepool.spiders.pipelines import PipelineRunner
from scrapepool.spiders.spider import Spider


def pipeline_error(ref):
    with pytest.raises(UsageError) as info:
        load_pipeline(ref)
    assert not isinstance(info.value, SpiderLoadError)  # a pipeline is not a spider
    message = str(info.value)
    assert "\n" not in message and message.strip() == message
    return message


def test_a_pipeline_class_and_its_reference_load_the_same():
    from tests.fault_spiders import ExitingPipeline

    assert load_pipeline(ExitingPipeline) is ExitingPipeline
    assert load_pipeline("tests.fault_spiders:ExitingPipeline") is ExitingPipeline


def test_a_pipeline_in_a_file_loads(tmp_path):
    path = tmp_path / "mypipes.py"
    path.write_text("class Upper:\n    def process_record(self, record, spider):\n"
                    "        return {k: str(v).upper() for k, v in record.items()}\n")
    cls = load_pipeline(f"{path}:Upper")
    runner = PipelineRunner(spider=None, pipelines=[cls()])
    assert runner.process([{"a": "x"}]) == ([{"a": "X"}], 0, [])


@pytest.mark.parametrize("ref, says", [
    ("no_colon", "must look like module:Class"),
    ("bad name:Cls", "must look like module:Class"),
    ("tests.fault_spiders:", "must look like module:Class"),
    ("no_such_module_xyz:Cls", "pipeline module 'no_such_module_xyz' not found"),
    ("tests.fault_spiders:NoSuchClass", "tests.fault_spiders has no class 'NoSuchClass'"),
    ("tests.fault_spiders:os", "is not a class"),
])
def test_pipeline_reference_errors_are_one_line(ref, says):
    assert says in pipeline_error(ref)


def test_a_missing_pipeline_file_is_one_line(tmp_path):
    assert "pipeline file not found" in pipeline_error(f"{tmp_path / 'nope.py'}:X")


def test_resolve_ref_checks_the_base_class():
    with pytest.raises(SpiderLoadError, match="is not a Spider subclass"):
        resolve_ref("tests.fault_spiders:ExitingPipeline", Spider, SpiderLoadError)
    assert load_spider("tests.spiders:TwoCallbacks").__name__ == "TwoCallbacks"
