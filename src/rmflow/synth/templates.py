"""Problem templates: multi-step integer word problems dressed in each domain's vocabulary.

A template is written in a small text notation so that the 14 domains stay readable:

* ``variables``: ``"name lo-hi[/step] phrase; ..."`` -- an integer drawn from ``range(lo, hi + 1, step)``
  and the noun phrase that names it in a solution step (``lo == hi`` gives a constant);
* ``steps``: ``"key = a OP b : phrase; ..."`` with ``OP`` one of ``+ - *`` and operands that are
  variables or earlier keys; the last step's key is the answer;
* ``unit``: a ``str.format`` pattern for the answer and the options (``"${}"``, ``"{} g"``).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

OPS = {"+": "plus", "-": "minus", "*": "times"}


@dataclass(frozen=True)
class Var:
    name: str
    lo: int
    hi: int
    step: int
    phrase: str


@dataclass(frozen=True)
class Step:
    key: str
    a: str
    op: str
    b: str
    phrase: str


@dataclass(frozen=True)
class Template:
    category: str
    name: str
    stem: str
    variables: tuple[Var, ...]
    steps: tuple[Step, ...]
    unit: str

    def phrase(self, key: str) -> str:
        """Noun phrase of a variable or a step result."""
        for item in (*self.variables, *self.steps):
            if (item.name if isinstance(item, Var) else item.key) == key:
                return item.phrase
        raise KeyError(key)


_VAR = re.compile(r"^(\w+) (\d+)-(\d+)(?:/(\d+))? (.+)$")
_STEP = re.compile(r"^(\w+) = (\w+) ([-+*]) (\w+) : (.+)$")


def template(category: str, name: str, stem: str, variables: str, steps: str, unit: str = "{}") -> Template:
    """Parse the notation above; a malformed template is a programming error (ValueError)."""
    vs = []
    for part in variables.split(";"):
        m = _VAR.match(part.strip())
        if not m:
            raise ValueError(f"{category}/{name}: bad variable {part!r}")
        vs.append(Var(m[1], int(m[2]), int(m[3]), int(m[4] or 1), m[5]))
    known = {v.name for v in vs}
    fields = {f for _, f, _, _ in string.Formatter().parse(stem) if f}
    if not fields <= known:
        raise ValueError(f"{category}/{name}: stem uses unknown {sorted(fields - known)}")
    ss = []
    for part in steps.split(";"):
        m = _STEP.match(part.strip())
        if not m or m[2] not in known or m[4] not in known:
            raise ValueError(f"{category}/{name}: bad step {part!r}")
        ss.append(Step(m[1], m[2], m[3], m[4], m[5]))
        known.add(m[1])
    return Template(category, name, stem, tuple(vs), tuple(ss), unit)


T = template
# fmt: off
TEMPLATES: dict[str, tuple[Template, ...]] = {
    "law": (
        T("law", "daily-fine",
          "A statute imposes a fine of ${rate} for each day a permit is violated. A company violated its "
          "permit for {days} days and has already paid ${paid}. How much does it still owe?",
          "rate 20-95/5 the daily fine; days 3-14 the number of days; paid 40-300/10 the amount paid",
          "total = rate * days : the total fine; owed = total - paid : the amount still owed", "${}"),
        T("law", "damages",
          "A court awards compensatory damages of ${comp} and punitive damages of {mult} times the "
          "compensatory award. The attorney's fee of ${fee} is deducted. What does the plaintiff receive?",
          "comp 120-900/10 the compensatory damages; mult 2-5 the punitive multiplier; fee 50-400/10 the fee",
          "pun = comp * mult : the punitive damages; award = comp + pun : the total award; "
          "net = award - fee : the net recovery", "${}"),
        T("law", "limitations",
          "A statute of limitations runs {limit} years from the injury and was tolled for {toll} years "
          "while the plaintiff was a minor. The injury occurred in {year}. In what year does the period expire?",
          "limit 2-12 the limitation period; toll 3-17 the tolling period; year 1950-2015 the injury year",
          "span = limit + toll : the total period; end = year + span : the expiry year"),
    ),
    "psychology": (
        T("psychology", "recall",
          "In a memory study, {n} participants each recall {k} words, but {f} participants are excluded for "
          "not following instructions. How many words do the remaining participants recall in total?",
          "n 20-90 the number of participants; f 2-15 the excluded participants; k 6-19 the words each",
          "kept = n - f : the remaining participants; words = kept * k : the total words recalled", "{} words"),
        T("psychology", "therapy",
          "A therapist plans {w} weeks of therapy with {s} sessions per week of {m} minutes each, plus one "
          "intake interview of {i} minutes. How many minutes of contact time are planned?",
          "w 4-16 the number of weeks; s 1-3 the sessions per week; m 30-60/5 the session length; "
          "i 40-90/5 the intake time",
          "count = w * s : the number of sessions; time = count * m : the session minutes; "
          "total = time + i : the total minutes", "{} minutes"),
        T("psychology", "inventory",
          "On a symptom inventory each severe item scores {hi} points and each mild item {lo} point(s). A client "
          "marks {a} severe and {b} mild items. What is the total score?",
          "hi 3-3 the severe item score; lo 1-1 the mild item score; a 2-14 the severe items; b 3-19 the mild items",
          "sev = a * hi : the severe points; mild = b * lo : the mild points; score = sev + mild : the total score",
          "{} points"),
    ),
    "chemistry": (
        T("chemistry", "mass-loss",
          "A sample holds {mol} moles of a compound with molar mass {mm} g/mol. During transfer {lost} g are "
          "lost. What mass of the compound remains?",
          "mol 2-9 the number of moles; mm 18-98 the molar mass; lost 5-60 the mass lost",
          "mass = mol * mm : the sample mass; left = mass - lost : the remaining mass", "{} g"),
        T("chemistry", "gas-yield",
          "A reaction releases {y} moles of gas per mole of reactant. A vessel already holds {x} moles of gas "
          "when {r} moles of reactant react completely. How many moles of gas are in the vessel?",
          "y 2-6 the gas per mole; r 3-25 the moles of reactant; x 2-30 the gas already present",
          "made = r * y : the gas produced; total = made + x : the total gas", "{} mol"),
        T("chemistry", "atoms",
          "A molecule contains {c} carbon atoms, {h} hydrogen atoms and {o} oxygen atoms. How many atoms are "
          "in {n} such molecules?",
          "c 2-12 the carbon atoms; h 4-24 the hydrogen atoms; o 1-6 the oxygen atoms; n 3-40 the molecules",
          "ch = c + h : the carbon and hydrogen atoms; per = ch + o : the atoms per molecule; "
          "total = per * n : the total atoms", "{} atoms"),
    ),
    "biology": (
        T("biology", "culture",
          "A bacterial culture starts with {n} cells and gains {g} cells per hour for {h} hours, after which "
          "an antibiotic kills {d} cells. How many cells remain?",
          "n 100-900/10 the initial cells; g 15-80 the hourly gain; h 3-12 the hours; d 20-300/10 the cells killed",
          "gain = g * h : the cells gained; total = n + gain : the cells before treatment; "
          "alive = total - d : the surviving cells", "{} cells"),
        T("biology", "seeds",
          "A plant bears {p} pods with {s} seeds each. In a germination test {f} seeds fail. How many "
          "seedlings emerge?",
          "p 6-40 the number of pods; s 3-12 the seeds per pod; f 2-30 the failed seeds",
          "seeds = p * s : the seeds produced; grown = seeds - f : the seedlings", "{} seedlings"),
        T("biology", "heartbeats",
          "A resting heart beats {b} times per minute. During exercise the rate rises by {x} beats per minute. "
          "How many beats occur in {m} minutes of rest followed by {e} minutes of exercise?",
          "b 55-85 the resting rate; x 20-70 the rise in rate; m 3-15 the resting minutes; e 2-12 the exercise minutes",
          "rest = b * m : the beats at rest; rate = b + x : the exercise rate; ex = rate * e : the exercise beats; "
          "total = rest + ex : the total beats", "{} beats"),
    ),
    "physics": (
        T("physics", "distance",
          "A cart moves at {v} m/s for {t} s and then at {w} m/s for {u} s. How far does it travel?",
          "v 2-19 the first speed; t 3-30 the first duration; w 2-19 the second speed; u 3-30 the second duration",
          "d1 = v * t : the first distance; d2 = w * u : the second distance; total = d1 + d2 : the total distance",
          "{} m"),
        T("physics", "work",
          "A constant force of {f} N pushes a crate {d} m across a floor, and friction removes {l} J of energy. "
          "What net work is done on the crate?",
          "f 12-95 the force; d 3-25 the distance; l 10-120 the friction loss",
          "w = f * d : the work by the force; net = w - l : the net work", "{} J"),
        T("physics", "momentum",
          "A cart of {m} kg moves at {v} m/s and a cart of {n} kg moves at {u} m/s in the same direction. "
          "What is their total momentum?",
          "m 2-20 the first mass; v 2-15 the first speed; n 2-20 the second mass; u 2-15 the second speed",
          "p1 = m * v : the first momentum; p2 = n * u : the second momentum; p = p1 + p2 : the total momentum",
          "{} kg m/s"),
    ),
    "history": (
        T("history", "treaty",
          "A peace treaty was signed in {y} and held for {d} years until a war broke out that lasted {w} years. "
          "In what year did the war end?",
          "y 1500-1880 the treaty year; d 4-40 the years of peace; w 2-30 the length of the war",
          "start = y + d : the year the war began; end = start + w : the year the war ended"),
        T("history", "dynasty",
          "A dynasty came to power in {y} and ruled for {n} generations of about {g} years each. In what year "
          "did its rule end?",
          "y 900-1600 the founding year; n 3-9 the number of generations; g 20-30 the years per generation",
          "span = n * g : the length of the rule; end = y + span : the final year"),
        T("history", "city",
          "A city was founded in {y}, sacked {a} years later, and rebuilt {b} years after the sack. How many "
          "years separate the rebuilding from the census of {c}?",
          "y 1100-1500 the founding year; a 10-150 the years to the sack; b 2-60 the years to rebuild; "
          "c 1800-1950 the census year",
          "sack = y + a : the year of the sack; built = sack + b : the year of rebuilding; "
          "gap = c - built : the years between", "{} years"),
    ),
    "economics": (
        T("economics", "profit",
          "A firm sells {q} units at ${p} each; each unit costs ${c} to make and fixed costs are ${f}. What is "
          "the firm's profit?",
          "q 20-200 the units sold; p 15-60 the price; c 4-14 the unit cost; f 100-900/10 the fixed costs",
          "margin = p - c : the margin per unit; contrib = margin * q : the total margin; "
          "profit = contrib - f : the profit", "${}"),
        T("economics", "excise",
          "A good sells for ${p} before a ${t} per-unit excise tax is added. A consumer buys {q} units after "
          "the tax. What does the consumer spend?",
          "p 6-60 the pre-tax price; t 1-9 the tax; q 4-30 the quantity",
          "price = p + t : the taxed price; spend = price * q : the spending", "${}"),
        T("economics", "gdp",
          "An economy has consumption of ${c} billion, investment of ${i} billion, government purchases of "
          "${g} billion and net exports of ${x} billion. What is GDP?",
          "c 300-900 consumption; i 50-300 investment; g 80-400 government purchases; x 5-60 net exports",
          "ci = c + i : private spending; cig = ci + g : domestic spending; gdp = cig + x : GDP", "${} billion"),
    ),
    "math": (
        T("math", "cut-area",
          "A rectangle measures {a} cm by {b} cm. A square of side {s} cm is cut from one corner. What area "
          "remains?",
          "a 12-40 the length; b 10-30 the width; s 2-9 the side",
          "area = a * b : the rectangle area; sq = s * s : the square area; left = area - sq : the remaining area",
          "{} square cm"),
        T("math", "expression",
          "Evaluate {a} * {b} + {c} * {d}.",
          "a 3-29 the first factor; b 3-29 the second factor; c 3-29 the third factor; d 3-29 the fourth factor",
          "p1 = a * b : the first product; p2 = c * d : the second product; s = p1 + p2 : the sum"),
        T("math", "sequence",
          "An arithmetic sequence starts at {a} and has common difference {d}. What is the term {n} places "
          "after the first?",
          "a 3-60 the first term; d 2-15 the difference; n 5-30 the number of places",
          "inc = n * d : the total increase; term = a + inc : the term"),
    ),
    "business": (
        T("business", "gross-profit",
          "A store buys {q} items at ${c} each and sells all of them at ${p} each. What is the gross profit?",
          "q 10-90 the number of items; c 3-20 the unit cost; p 21-45 the unit price",
          "cost = q * c : the total cost; rev = q * p : the revenue; gp = rev - cost : the gross profit", "${}"),
        T("business", "payroll",
          "A company pays {n} workers ${w} per week each. What does payroll cost over {k} weeks, including a "
          "one-time bonus pool of ${b}?",
          "n 3-20 the number of workers; w 200-900/50 the weekly wage; k 2-8 the weeks; b 100-900/50 the bonus",
          "weekly = n * w : the weekly payroll; span = weekly * k : the payroll over the period; "
          "total = span + b : the total cost", "${}"),
        T("business", "inventory",
          "A warehouse holds {s} units, receives {r} shipments of {u} units each and ships out {o} units. What "
          "is the ending inventory?",
          "s 100-900/10 the starting stock; r 2-9 the shipments; u 20-150/5 the units per shipment; "
          "o 50-400/10 the units shipped out",
          "recv = r * u : the units received; have = s + recv : the available units; "
          "end = have - o : the ending inventory", "{} units"),
    ),
    "philosophy": (
        T("philosophy", "utility",
          "A utilitarian weighs an act that gives {h} units of pleasure to each of {n} people and {c} units of "
          "pain to each of {m} people. What is the net utility of the act?",
          "h 3-15 the pleasure per person; n 10-60 the people pleased; c 1-9 the pain per person; "
          "m 3-25 the people pained",
          "good = h * n : the total pleasure; bad = c * m : the total pain; net = good - bad : the net utility",
          "{} units"),
        T("philosophy", "arguments",
          "A logic text has {c} chapters with {a} arguments each; {v} of all the arguments are valid. How "
          "many arguments are invalid?",
          "c 4-16 the chapters; a 6-25 the arguments per chapter; v 10-60 the valid arguments",
          "total = c * a : the total arguments; bad = total - v : the invalid arguments", "{} arguments"),
        T("philosophy", "dialogues",
          "A philosopher wrote {d} dialogues of {p} pages each and {e} essays of {q} pages each. How many "
          "pages did the philosopher write?",
          "d 3-30 the dialogues; p 10-60 the pages per dialogue; e 2-25 the essays; q 5-30 the pages per essay",
          "dp = d * p : the dialogue pages; ep = e * q : the essay pages; total = dp + ep : the total pages",
          "{} pages"),
    ),
    "health": (
        T("health", "dosage",
          "A patient weighing {w} kg is prescribed {d} mg per kg per dose, {t} doses a day. What is the "
          "daily dose?",
          "w 40-110 the body weight; d 2-9 the dose per kg; t 2-4 the doses per day",
          "dose = w * d : the single dose; daily = dose * t : the daily dose", "{} mg"),
        T("health", "calories",
          "A patient eats {m} meals of {c} kcal and burns {b} kcal in physical therapy. What is the net "
          "energy intake?",
          "m 2-5 the meals; c 300-800/10 the energy per meal; b 150-900/10 the energy burned",
          "intake = m * c : the energy eaten; net = intake - b : the net intake", "{} kcal"),
        T("health", "fluids",
          "An IV line runs at {r} mL per hour for {h} hours, and the patient also drinks {o} mL. What is "
          "the total fluid intake?",
          "r 40-150/5 the infusion rate; h 3-12 the hours; o 100-900/10 the oral intake",
          "iv = r * h : the IV volume; total = iv + o : the total intake", "{} mL"),
    ),
    "engineering": (
        T("engineering", "beam",
          "A beam carries {n} point loads of {f} N each in addition to its own weight of {w} N. What total "
          "load must the supports carry?",
          "n 3-12 the number of loads; f 50-400/10 the load size; w 100-900/10 the self-weight",
          "loads = n * f : the applied load; total = loads + w : the total load", "{} N"),
        T("engineering", "energy",
          "A motor draws {i} A at {v} V and runs for {t} hours. How much energy does it use?",
          "i 2-15 the current; v 12-48/12 the voltage; t 2-9 the hours",
          "p = i * v : the power; e = p * t : the energy", "{} Wh"),
        T("engineering", "pump",
          "A pump moves {r} L per minute for {m} minutes, but {l} L leak from the pipe. How much water is "
          "delivered?",
          "r 15-90 the flow rate; m 5-30 the minutes; l 10-150/5 the leakage",
          "moved = r * m : the volume pumped; out = moved - l : the volume delivered", "{} L"),
    ),
    "computer_science": (
        T("computer_science", "loop",
          "A program runs a loop of {n} iterations, each executing {k} instructions, after {s} setup "
          "instructions. How many instructions run in total?",
          "n 20-300/10 the iterations; k 3-15 the instructions per iteration; s 5-90 the setup instructions",
          "body = n * k : the loop instructions; total = body + s : the total instructions", "{} instructions"),
        T("computer_science", "cache",
          "A cache has {s} sets of {w} lines, and each line holds {b} bytes. What is its capacity?",
          "s 4-64/4 the sets; w 2-8 the lines per set; b 16-64/16 the bytes per line",
          "lines = s * w : the number of lines; cap = lines * b : the capacity", "{} bytes"),
        T("computer_science", "requests",
          "A server handles {r} requests per second for {t} seconds; {f} of the requests fail and {x} are "
          "retried successfully. How many requests succeed?",
          "r 20-200/10 the request rate; t 5-40 the seconds; f 30-300/10 the failures; x 5-25 the retries",
          "all = r * t : the total requests; ok = all - f : the first-try successes; "
          "good = ok + x : the successful requests", "{} requests"),
    ),
    "other": (
        T("other", "bakery",
          "A recipe needs {g} g of flour per loaf. A bakery bakes {l} loaves and has {h} g of flour in stock. "
          "How much more flour must it buy?",
          "g 300-600/10 the flour per loaf; l 5-30 the loaves; h 500-2000/50 the flour in stock",
          "need = g * l : the flour needed; buy = need - h : the flour to buy", "{} g"),
        T("other", "tickets",
          "A bus ticket costs ${t} and a museum ticket costs ${m}. A group of {n} buys one of each per person. "
          "What does the group pay?",
          "t 2-15 the bus fare; m 5-30 the museum fee; n 3-25 the group size",
          "per = t + m : the cost per person; total = per * n : the total cost", "${}"),
        T("other", "points",
          "A team scores {a} touchdowns worth {p} points each and {f} field goals worth {k} points each. "
          "How many points does it score?",
          "a 1-9 the touchdowns; p 6-7 the touchdown value; f 1-8 the field goals; k 3-3 the field goal value",
          "td = a * p : the touchdown points; fg = f * k : the field goal points; total = td + fg : the total",
          "{} points"),
    ),
}
# fmt: on
del T
