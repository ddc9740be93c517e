"""Imports an Airflow DAG file with stub `airflow` modules (Airflow cannot be installed on the build machine) and prints
its tasks, operator arguments and edges as JSON; `--call NAME ARGS_JSON` then calls one of the file's functions."""
import importlib.util
import json
import py_compile
import sys
import types

DAGS = []
_current = []


class DAG:
    def __init__(self, dag_id, **kwargs):
        self.dag_id, self.kwargs, self.tasks, self.edges = dag_id, kwargs, [], []
        DAGS.append(self)

    def __enter__(self):
        _current.append(self)
        return self

    def __exit__(self, *exc):
        _current.pop()


class BaseOperator:
    def __init__(self, task_id, **kwargs):
        if not _current:
            raise RuntimeError("operator " + task_id + " created outside a DAG")
        self.task_id, self.kwargs, self.dag = task_id, kwargs, _current[-1]
        if any(t.task_id == task_id for t in self.dag.tasks):
            raise RuntimeError("duplicate task id " + task_id)
        self.dag.tasks.append(self)

    def __rshift__(self, other):
        self.dag.edges.append([self.task_id, other.task_id])
        return other


class SparkSubmitOperator(BaseOperator):
    pass


class PythonOperator(BaseOperator):
    pass


class ShortCircuitOperator(PythonOperator):
    pass


class Param:
    def __init__(self, default=None, **kwargs):
        self.default, self.kwargs = default, kwargs


def stub(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


stub("airflow", DAG=DAG)
stub("airflow.models")
stub("airflow.models.param", Param=Param)
stub("airflow.operators")
stub("airflow.operators.python", PythonOperator=PythonOperator, ShortCircuitOperator=ShortCircuitOperator)
for p in ["airflow.providers", "airflow.providers.apache", "airflow.providers.apache.spark", "airflow.providers.apache.spark.operators"]:
    stub(p)
stub("airflow.providers.apache.spark.operators.spark_submit", SparkSubmitOperator=SparkSubmitOperator)

path = sys.argv[1]
py_compile.compile(path, doraise=True)
spec = importlib.util.spec_from_file_location("dag_under_test", path)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

if len(sys.argv) > 3 and sys.argv[2] == "--call":
    result = getattr(module, sys.argv[3])(**json.loads(sys.argv[4]))
    print(json.dumps({"result": result}))
    sys.exit(0)


def plain(v):
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [plain(x) for x in v]
    if isinstance(v, Param):
        return {"default": v.default}
    if callable(v):
        return "callable:" + v.__name__
    return str(v)


print(json.dumps([{
    "dag_id": d.dag_id,
    "kwargs": plain(d.kwargs),
    "tasks": [{"task_id": t.task_id, "type": type(t).__name__, **plain(t.kwargs)} for t in d.tasks],
    "edges": d.edges,
} for d in DAGS]))
