"""Exercise grading: ``lossmod check`` for learners, ``lossmod grade`` for instructors.

The grader (the parent process) never runs learner code. Each submission runs in a fresh,
confined child that receives only check inputs and answers only with plain data; the grader
judges the answers against the reference solutions and writes the results atomically. One
concern per module:

- ``notebook``: reading a notebook without running it, and what of it the child runs;
- ``sandbox``: starting a child under limits, reading its pipes, killing its process group;
- ``confine``: Landlock, seccomp and capabilities, applied by the child to itself;
- ``child``: the child's program (``python -I -m lossmod_instructor.grading.child``);
- ``tripwire``: in the child, the references a learner's function may not call;
- ``wire``: the JSON protocol between the two;
- ``plan`` and ``scoring``: reference answers, and the verdict on each answer;
- ``submission`` and ``batch``: grading one submission, and many at once;
- ``outputs``: results.json, grades.csv and the audit log; ``progress``; ``cli``.

The child imports only what it needs, so this package's ``__init__`` imports nothing.
"""
