"""Exercise grading: ``lossmod check`` for learners, ``lossmod grade`` for instructors.

The grader (the parent process) never runs learner code. Each submission runs in a fresh,
confined child that receives only check inputs and answers only with plain data; the grader
judges the answers against the reference solutions and writes the results atomically. One
concern per module:

- ``notebook`` (in ``lossmod.exercises``): reading a notebook without running it, and what of it
  the child runs;
- ``library``: the child's private copy of lossmod, without the functions the assignment asks
  learners to write ("from scratch" by construction), and the child's own program beside it;
- ``sandbox``: starting a child under limits, killing its process group;
- ``session``: one child's conversation with the grader: checks one at a time, deadlines,
  bounded reading of everything it sends;
- ``cleanup``: removing a scratch folder, bounded and without following links;
- ``confine``: Landlock, seccomp, an IPC namespace and capabilities, applied to the child;
- ``child``: the child's program, run from its library;
- ``wire``: the JSON protocol between the two;
- ``plan`` and ``scoring``: reference answers, and the verdict on each answer;
- ``submission`` and ``batch``: grading one submission, and many at once;
- ``outputs``: results.json, grades.csv and the audit log; ``reports``: the feedback per student
  and the class summary; ``gradescope``: the autograder zip and its runner; ``progress``; ``cli``.

The child imports only what it needs, so this package's ``__init__`` imports nothing.
"""
