"""Stored plans of format 1 become format 2 (output kinds, windowed views, store retention and
changelog config), and their plan_hash the hash of the upgraded plan.

The document is unchanged, so this is the plan the document compiles to now: a save of the
same document after the upgrade finds the same hash and writes no new version. Readers accept
format 1 as well (``plan_from_dict``), so a plan this cannot read is left as it is.
"""

from django.db import migrations


def upgrade_plans(apps, schema_editor):
    from topology.compiler.plan import plan_from_dict, plan_to_dict

    TopologyVersion = apps.get_model("topology", "TopologyVersion")
    for version in TopologyVersion.objects.filter(plan__format=1).only("pk", "plan").iterator():
        try:
            plan = plan_to_dict(plan_from_dict(version.plan))
        except (ValueError, KeyError, TypeError):
            continue
        # update(), not save(): versions are immutable for application code.
        TopologyVersion.objects.filter(pk=version.pk).update(plan=plan, plan_hash=plan["hash"])


class Migration(migrations.Migration):
    dependencies = [("topology", "0001_initial")]

    operations = [migrations.RunPython(upgrade_plans, migrations.RunPython.noop, elidable=True)]
