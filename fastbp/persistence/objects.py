"""The scikit-learn and fastbp objects a saved object is made of."""


def _objects(obj):
    """The scikit-learn and fastbp objects in ``obj``: itself, or inside a
    Pipeline, a search, or any other meta-estimator (their attributes, lists
    and dicts), fastbp's estimators as leaves."""
    from sklearn.base import BaseEstimator

    from ..estimators.base import BaseMLP

    found, stack, seen = [], [obj], set()
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, BaseMLP):
            found.append(item)
        elif isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif hasattr(item, "__dict__") and (
                isinstance(item, BaseEstimator)
                or type(item).__module__.split(".")[0] in ("sklearn", "fastbp")):
            found.append(item)
            stack.extend(reversed(list(vars(item).values())))
    return found


def _fastbp_models(objects):
    """The fastbp estimators among :func:`_objects`' ``objects``."""
    from ..estimators.base import BaseMLP

    return [item for item in objects if isinstance(item, BaseMLP)]


def _held_within(objects):
    """The fastbp and scikit-learn objects that the fastbp models among
    ``objects`` hold, at any depth, that are not ``objects`` themselves
    (:func:`_objects` does not look into a fastbp model)."""
    from ..estimators.base import BaseMLP

    seen = {id(item) for item in objects}
    stack = [v for item in objects if isinstance(item, BaseMLP) for v in vars(item).values()]
    found = []
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif (hasattr(item, "__dict__") and not isinstance(item, type)
              and type(item).__module__.split(".")[0] in ("sklearn", "fastbp")):
            found.append(item)
            stack.extend(vars(item).values())
    return found
