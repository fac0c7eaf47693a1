"""Declared types and ranges of the values a recipe holds, checked before anything runs.

Each `Field` says what one value may be (a finite number in a range, a whole number, a
boolean, one of a few names, a list of epochs), so a bad value is refused with one line
naming the flag, the value and what is allowed, when the experiment is built: before
any run folder exists. No Keras here, so recipes can be checked without loading it.
"""
import dataclasses
import math

from errors import SuiteError


@dataclasses.dataclass(frozen=True)
class Field:
    """One declared value.

    kind: 'float' (a finite real number), 'int' (a whole number), 'bool', 'choice' (one of
    `choices`), 'text', 'epochs' (a list of whole epoch numbers >= 1) or 'sizes' (a list of
    whole numbers >= 1, or of such lists: layer widths). low/high bound numbers
    (None: unbounded); low_open/high_open make a bound exclusive. default: the value used
    when none is given (None: derived from the run).
    """

    kind: str
    low: float = None
    high: float = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    default: object = None
    many: bool = False          # 'choice' only: a list of choices is accepted too

    def allowed(self):
        """What the field accepts, in words, e.g. 'a number in (0, 10]'."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return ("one of " if not self.many else "one (or a list) of ") + ", ".join(map(str, self.choices))
        if self.kind == "epochs":
            return "a list of whole epoch numbers >= 1, e.g. [10,20]"
        if self.kind == "sizes":
            return "a list of whole numbers >= 1 (or of such lists), e.g. [64,128]"
        if self.kind == "text":
            return "text"
        what = "a whole number" if self.kind == "int" else "a finite number"
        if self.low is None and self.high is None:
            return what
        if self.high is None:
            return f"{what} {'>' if self.low_open else '>='} {self.low:g}"
        if self.low is None:
            return f"{what} {'<' if self.high_open else '<='} {self.high:g}"
        return (f"{what} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}"
                f"{')' if self.high_open else ']'}")

    def accepts(self, value):
        """True when `value` is of this field's kind and within its range (NaN and infinities never are)."""
        if self.kind == "bool":
            return isinstance(value, bool)
        if self.kind == "choice":
            if self.many and isinstance(value, (list, tuple)):
                return len(value) > 0 and all(v in self.choices for v in value)
            return isinstance(value, (str, int, float)) and value in self.choices
        if self.kind == "text":
            return isinstance(value, str)
        if self.kind in ("epochs", "sizes"):
            def whole(v):
                return isinstance(v, int) and not isinstance(v, bool) and v >= 1
            return isinstance(value, (list, tuple)) and len(value) > 0 and all(
                whole(v) or (self.kind == "sizes" and isinstance(v, (list, tuple)) and v and all(map(whole, v)))
                for v in value)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if self.kind == "int" and not isinstance(value, int):
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return self.high is None or (value < self.high if self.high_open else value <= self.high)

    def check(self, flag, value):
        """Return `value` if accepted.

        Raises:
            SuiteError: "FLAG: VALUE is not allowed; it must be ALLOWED".
        """
        if not self.accepts(value):
            raise SuiteError(f"{flag}: {value!r} is not allowed; it must be {self.allowed()}")
        return value


def unit_interval(high_open=True):
    """A number in [0, 1) (or [0, 1] with high_open=False): momenta, decays, fractions."""
    return Field("float", 0, 1, high_open=high_open)


def positive(high=None):
    """A finite number > 0 (and <= high)."""
    return Field("float", 0, high, low_open=True)


def check_fields(values, fields, flag_of):
    """Check each value of the dict `values` against `fields[key]`; `flag_of(key)` names it in errors.

    Raises:
        SuiteError: a key with no field (listing the valid ones) or a value the field refuses.
    """
    for key, value in values.items():
        if key not in fields:
            raise SuiteError(f"{flag_of(key)}: unknown; choose from: {', '.join(fields) or 'none'}")
        fields[key].check(flag_of(key), value)


def with_defaults(values, fields):
    """`values` (a checked dict) completed with each missing field's default: {key: value}."""
    return {**{key: field.default for key, field in fields.items()}, **values}
