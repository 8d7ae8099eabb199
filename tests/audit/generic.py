"""``AuditedModelContract``: the audit-trail behaviour every audited model must show (P3).

Inherit it in a ``Test…`` class of any app's tests and implement the hooks::

    class TestCustomerAudit(AuditedModelContract):
        def make_object(self):           # create and return a saved object
            ...
        def edit_object(self, obj):      # change one field in memory, return its name
            obj.name = "new"; return "name"

The inherited tests prove: create → an entry with the new values; update → old/new diff;
delete → an entry; a controlled model without a reason → ReasonRequired and nothing saved.
"""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import transaction

from qcare.audit.models import AuditEntry
from qcare.core.context import audit_context
from qcare.core.errors import ReasonRequired


class AuditedModelContract:
    """Mixin of inherited tests; the subclass supplies ``make_object`` and ``edit_object``."""

    reason = "合同评审后更正 / corrected after review"

    def make_object(self):
        raise NotImplementedError

    def edit_object(self, obj):
        raise NotImplementedError

    # --- helpers ---------------------------------------------------------------------------
    @staticmethod
    def entries_for(obj, pk=None):
        content_type = ContentType.objects.get_for_model(obj, for_concrete_model=True)
        pk = obj.pk if pk is None else pk
        return list(AuditEntry.objects.filter(content_type=content_type, object_pk=str(pk)).order_by("seq"))

    @staticmethod
    def reload(obj):
        return type(obj)._base_manager.get(pk=obj.pk)

    # --- inherited tests ---------------------------------------------------------------------
    @pytest.mark.django_db
    def test_P3_contract_create_writes_entry_with_new_values(self):
        obj = self.make_object()
        entries = self.entries_for(obj)
        assert [e.action for e in entries][:1] == ["create"]
        create = entries[0]
        assert create.changes, "a create entry lists the new values"
        assert all(v == "***changed***" or v[0] is None for v in create.changes.values())
        assert create.object_repr == str(obj)[:200]

    @pytest.mark.django_db
    def test_P3_contract_update_writes_old_and_new(self):
        obj = self.reload(self.make_object())
        field = obj._meta.get_field(self.edit_object(obj))
        old_value = field.value_from_object(self.reload(obj))
        with audit_context(reason=self.reason):
            obj.save()
        last = self.entries_for(obj)[-1]
        assert last.action == "update"
        assert last.reason == self.reason
        change = last.changes[field.name]
        if change != "***changed***":
            assert change[0] != change[1]
            assert str(change[0]) == str(old_value) or change[0] == old_value

    @pytest.mark.django_db
    def test_P3_contract_delete_writes_entry(self):
        obj = self.make_object()
        pk = obj.pk
        with audit_context(reason=self.reason):
            obj.delete()
        assert not type(obj)._base_manager.filter(pk=pk).exists()
        last = self.entries_for(obj, pk=pk)[-1]
        assert last.action == "delete"
        assert last.reason == self.reason

    @pytest.mark.django_db
    def test_P3_contract_controlled_change_without_reason_refused_nothing_saved(self):
        obj = self.reload(self.make_object())
        if not getattr(type(obj), "controlled", False):
            # Not controlled: a change without a reason is allowed and audited.
            self.edit_object(obj)
            obj.save()
            assert self.entries_for(obj)[-1].action == "update"
            return
        before_db = self.reload(obj)
        before_entries = AuditEntry.objects.count()
        name = self.edit_object(obj)
        with pytest.raises(ReasonRequired):
            obj.save()
        # delete() runs in Django's own atomic block: a refusal there marks the enclosing
        # transaction for rollback, so the attempt gets its own savepoint (as a service's would).
        with pytest.raises(ReasonRequired), transaction.atomic():
            self.reload(obj).delete()
        after_db = self.reload(obj)
        field = obj._meta.get_field(name)
        assert field.value_from_object(after_db) == field.value_from_object(before_db)
        assert AuditEntry.objects.count() == before_entries
