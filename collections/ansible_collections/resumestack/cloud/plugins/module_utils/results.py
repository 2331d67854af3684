# Copyright: ResumeStack contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The shape of what the collection's modules return: snake_case resources, ``changed`` and the diff."""

from typing import Any, NoReturn

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict


def snake_resource(
    resource: dict[str, Any] | None, tag_key: str = "Tags", key_name: str = "Key", value_name: str = "Value"
) -> dict[str, Any]:
    """An API object with snake_case keys and its tag list as a plain ``tags`` dict; ``{}`` for no object.

    ECS spells the tag list and its keys in lower case: pass ``"tags", "key", "value"``.
    """
    if not resource:
        return {}
    result = camel_dict_to_snake_dict({k: v for k, v in resource.items() if k != tag_key})
    result["tags"] = boto3_tag_list_to_ansible_dict(resource.get(tag_key) or [], key_name, value_name)
    return result


class Outcome:
    """Whether a run changed anything, and its exit with the before/after views that diff mode shows.

    ``diff_always``: the ECS, application autoscaling and ELB modules have always returned ``diff``, diff mode or not,
    and keep doing so; the others return it in diff mode only.
    """

    def __init__(self, module: AnsibleAWSModule, *, diff_always: bool = False) -> None:
        self.module = module
        self.diff_always = diff_always
        self.changed = False

    def record(self, changed: bool) -> bool:
        """Notes whether one step changed (or, in check mode, would change) something; returns it unchanged."""
        self.changed = self.changed or changed
        return changed

    def exit(self, before: dict[str, Any], after: dict[str, Any], **fields: Any) -> NoReturn:
        result: dict[str, Any] = {"changed": self.changed, **fields}
        if self.diff_always or self.module._diff:
            result["diff"] = {"before": before, "after": after}
        self.module.exit_json(**result)
