"""Many design points' values carried through the scalar code at once ("lanes", as in SIMD).

A ``Lanes`` value stands for one number per design point. Arithmetic on it is element-wise and
exactly Python's (int64 and float64 arrays, refused where they would part from Python's
unbounded ints); a comparison gives boolean lanes; and wherever the scalar code branches on a
value (``if``, ``and``, ``max``, ``int()``), every lane must take the same way, or ``Diverged`` is
raised and the caller evaluates those points one by one. So a family generator, shape
inference and the counters run unchanged, once for many points, and give each point exactly
what they give it alone: nothing here restates a formula. Type checks see ``IntLanes`` as an
integer and ``FloatLanes`` as a real number, which every lane is.
"""
from __future__ import annotations

import hashlib
import numbers
import operator
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

# Beyond this an int64 product or sum could wrap where Python's int grows: refused, not wrong.
_EXACT_INT = 2**62
_EXACT_FLOAT_INT = 2**53  # ints a float64 holds exactly (conversions and mixed comparisons)


class Diverged(Exception):
    """The lanes would part ways (a branch taken differently, a value one lane cannot hold).
    ``labels``, where known, has one entry per lane, equal for lanes that would go the same way:
    evaluate each such part again, or else the lanes one by one."""

    def __init__(self, message: str, labels: np.ndarray | None = None):
        super().__init__(message)
        self.labels = labels


class Lanes:
    __slots__ = ("values", "bound", "_digest")
    __array_ufunc__ = None  # numpy's scalars defer to these methods, which refuse them

    def __init__(self, values: np.ndarray, bound: int | None = None):
        self.values = values
        # ints: a Python int at least every lane's magnitude, carried exactly from operand to
        # result, so that no product or sum is checked for wrapping in numpy
        self.bound = bound
        self._digest = None

    @staticmethod
    def of(values: list) -> "Lanes":
        """Lanes of Python ints (not bools) or of floats; anything else is Diverged."""
        if all(type(v) is int for v in values):
            bound = max(map(abs, values))
            if bound >= _EXACT_INT:
                raise Diverged("an integer beyond exact 64-bit lane arithmetic")
            return IntLanes(np.array(values, dtype=np.int64), bound)
        if all(type(v) is float for v in values):
            return FloatLanes(np.array(values, dtype=np.float64))
        raise Diverged("lanes hold ints or floats, one kind at a time")

    # -- what branches see ------------------------------------------------------------------
    def __bool__(self) -> bool:
        true = np.count_nonzero(self.values)
        if true == self.values.size:
            return True
        if not true:
            return False
        raise Diverged("lanes take different branches", self.values != 0)

    def _uniform(self):
        values = self.values
        first = values[0]
        if (values != first).any() or (values.dtype.kind == "f"
                                       and np.signbit(values).any() != np.signbit(first)):
            raise Diverged("lanes differ where one value is needed", values)
        return first.item()

    def __int__(self) -> int:
        return int(self._uniform())

    def __float__(self) -> float:
        return float(self._uniform())

    def __format__(self, spec: str) -> str:  # a name or a message: one text for all lanes
        return format(self._uniform(), spec)

    def __str__(self) -> str:
        return str(self._uniform())

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        # memo keys are reprs: a digest of every lane, never numpy's abbreviated print
        return f"<{type(self).__name__} {self.values.size} {self._key()}>"

    def _key(self) -> str:
        if self._digest is None:
            self._digest = hashlib.blake2b(self.values.tobytes(), digest_size=16,
                                           person=self.values.dtype.str.encode()).hexdigest()
        return self._digest

    # -- arithmetic -------------------------------------------------------------------------
    def _arith(self, op: Callable, other: Any, swap: bool, bound: Callable[[int, int], int]):
        """+, - or *: ints stay ints while their bound shows no lane can wrap."""
        if type(other) is int and type(self) is IntLanes and other == _IDENTITY[op] and not (
                swap and op is operator.sub):
            return self  # sums of many zeros (a ReLU's weights): exact, and no array op
        o = _parts(other)
        if o is None:
            return NotImplemented
        (x, bx), (y, by) = (o, _parts(self)) if swap else (_parts(self), o)
        if bx is not None and by is not None:
            limit = bound(bx, by)
            if limit >= _EXACT_INT:
                raise Diverged("a result beyond exact 64-bit lane arithmetic")
            return IntLanes(op(x, y), limit)
        return FloatLanes(op(x, y))

    def _divide(self, op: Callable, other: Any, swap: bool):
        o = _parts(other)
        if o is None:
            return NotImplemented
        (x, bx), (y, by) = (o, _parts(self)) if swap else (_parts(self), o)
        zero = y == 0  # Python raises; in every lane, as it would in each
        if zero if type(y) is int or type(y) is float else zero.all():
            raise ZeroDivisionError("division by zero")
        if type(zero) is not bool and zero.any():
            raise Diverged("division by zero in some lanes", zero)
        ints = bx is not None and by is not None
        if op is operator.truediv:
            if ints and max(bx, by) >= _EXACT_FLOAT_INT:
                raise Diverged("an integer that a float would round")
            return FloatLanes(op(x, y))
        if ints:  # |x // y| <= |x| and |x % y| < |y| for a non-zero integer y
            return IntLanes(op(x, y), bx if op is operator.floordiv else by)
        return FloatLanes(op(x, y))

    def _compare(self, op: Callable, other: Any):
        o = _parts(other)
        if o is None:
            return NotImplemented
        (x, bx), (y, by) = _parts(self), o
        if (bx is None) != (by is None) and (bx if by is None else by) >= _EXACT_FLOAT_INT:
            raise Diverged("an integer that a float would round")  # Python compares exactly
        return BoolLanes(op(x, y))

    def __add__(self, o): return self._arith(operator.add, o, False, operator.add)
    def __radd__(self, o): return self._arith(operator.add, o, True, operator.add)
    def __sub__(self, o): return self._arith(operator.sub, o, False, operator.add)
    def __rsub__(self, o): return self._arith(operator.sub, o, True, operator.add)
    def __mul__(self, o): return self._arith(operator.mul, o, False, operator.mul)
    def __rmul__(self, o): return self._arith(operator.mul, o, True, operator.mul)
    def __floordiv__(self, o): return self._divide(operator.floordiv, o, False)
    def __rfloordiv__(self, o): return self._divide(operator.floordiv, o, True)
    def __mod__(self, o): return self._divide(operator.mod, o, False)
    def __rmod__(self, o): return self._divide(operator.mod, o, True)
    def __truediv__(self, o): return self._divide(operator.truediv, o, False)
    def __rtruediv__(self, o): return self._divide(operator.truediv, o, True)
    def __lt__(self, o): return self._compare(operator.lt, o)
    def __le__(self, o): return self._compare(operator.le, o)
    def __gt__(self, o): return self._compare(operator.gt, o)
    def __ge__(self, o): return self._compare(operator.ge, o)
    def __eq__(self, o): return self._compare(operator.eq, o)
    def __ne__(self, o): return self._compare(operator.ne, o)

    def __neg__(self):
        x, bound = _parts(self)
        return IntLanes(-x, bound) if bound is not None else FloatLanes(-x)

    def __pos__(self):
        x, bound = _parts(self)
        return IntLanes(x, bound) if bound is not None else FloatLanes(x)

    def __abs__(self):
        x, bound = _parts(self)
        return IntLanes(np.abs(x), bound) if bound is not None else FloatLanes(np.abs(x))


class IntLanes(Lanes):
    __slots__ = ()
    __index__ = Lanes.__int__  # as an int's: range(n), a list index

    def __round__(self, ndigits=None):
        if ndigits is not None:
            raise Diverged("round() to digits is not done in lanes")
        return self

    __floor__ = __ceil__ = __trunc__ = __round__


class FloatLanes(Lanes):
    __slots__ = ()

    def _to_int(self, rounded: np.ndarray) -> IntLanes:
        bound = np.abs(rounded).max()
        if not bound < _EXACT_INT:  # nan and inf included, as int() refuses them
            raise Diverged("a float that no lane integer holds")
        return IntLanes(rounded.astype(np.int64), int(bound))

    def __round__(self, ndigits=None):
        if ndigits is not None:
            raise Diverged("round() to digits is not done in lanes")
        return self._to_int(np.rint(self.values))  # half to even, as Python's round()

    def __floor__(self): return self._to_int(np.floor(self.values))
    def __ceil__(self): return self._to_int(np.ceil(self.values))
    def __trunc__(self): return self._to_int(np.trunc(self.values))


class BoolLanes(Lanes):
    __slots__ = ()
    __index__ = Lanes.__int__


_IDENTITY = {operator.add: 0, operator.sub: 0, operator.mul: 1}
numbers.Integral.register(IntLanes)
numbers.Real.register(FloatLanes)


def _parts(x: Any) -> tuple[Any, int | None] | None:
    """An operand as (an array or a Python scalar, its integer bound or None for floats); None
    where Python would not compute with it."""
    t = type(x)
    if t is IntLanes or t is FloatLanes:
        return x.values, x.bound
    if t is int or t is bool:
        if not -_EXACT_INT < x < _EXACT_INT:
            raise Diverged("an integer beyond exact 64-bit lane arithmetic")
        return int(x), abs(int(x))
    if t is float:
        return x, None
    if t is BoolLanes:  # booleans count as Python's do (True + True is 2)
        return x.values.astype(np.int64), 1
    return None


# -- memo dicts that a lane evaluation leaves as it found them -----------------------------
_MEMOS: list[dict] = []


def memo() -> dict:
    """A memo dict (a module's cache). Entries keyed by lanes never serve again (other points
    make other lanes): ``discarding_new_entries`` removes them after a lane evaluation."""
    d: dict = {}
    _MEMOS.append(d)
    return d


@contextmanager
def discarding_new_entries() -> Iterator[None]:
    """Every memo dict as it was before the block (a dict keeps insertion order: the new entries
    are the last ones), or emptied where its own size limit cleared it meanwhile."""
    lasts = [next(reversed(m), None) for m in _MEMOS]
    try:
        yield
    finally:
        for m, last in zip(_MEMOS, lasts):
            while m and next(reversed(m)) is not last:
                m.popitem()
