"""factory_boy factories for accounts models (shared by every app's tests)."""

import factory

from qcare.accounts.models import Department, Role, User

DEFAULT_PASSWORD = "correct-horse-42"


class DepartmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Department
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"dept{n}")
    name = factory.Sequence(lambda n: f"部门{n}")
    name_en = factory.Sequence(lambda n: f"Department {n}")


class UserFactory(factory.django.DjangoModelFactory):
    """A staff user; ``roles=["sales_clerk", …]`` takes seeded role codes."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    full_name = factory.Sequence(lambda n: f"用户{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    department = factory.SubFactory(DepartmentFactory)
    language = "zh-hans"
    password = factory.django.Password(DEFAULT_PASSWORD)

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if not create or not extracted:
            return
        roles = [r if isinstance(r, Role) else Role.objects.get(code=r) for r in extracted]
        self.roles.set(roles)
