"""Prints one line as each task that calls AWS starts (an amazon.aws, community.aws or resumestack.cloud
module): test_95_interrupted.py kills a run on the k-th such line."""

from __future__ import annotations

from typing import Any

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
name: aws_task_marker
type: aggregate
short_description: Mark the start of each task that calls AWS
description: Prints 'AWS TASK START <module> <task name>' when such a task starts.
requirements: [enabled in callbacks_enabled]
"""

COLLECTIONS = ("amazon.aws.", "community.aws.", "resumestack.cloud.")


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "aws_task_marker"
    CALLBACK_NEEDS_ENABLED = True

    def v2_playbook_on_task_start(self, task: Any, is_conditional: bool) -> None:
        if str(task.action).startswith(COLLECTIONS):
            self._display.display(f"AWS TASK START {task.action} {task.get_name()}")
