"""Screens of the product catalogue: product list / form / record, categories, import.

Views parse input, call a service and choose the response (DESIGN rule 1); querysets come
from ``restrict()`` (rule 4).
"""

import base64

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from qcare.accounts.permissions import has_perm
from qcare.catalog import importexport, services
from qcare.catalog.forms import (
    CategoryEditForm,
    CategoryForm,
    DeactivateForm,
    ImportForm,
    ProductEditForm,
    ProductForm,
)
from qcare.catalog.models import Product, ProductCategory
from qcare.core import ui
from qcare.core.decorators import permission_required
from qcare.core.errors import DomainError
from qcare.core.forms import domain_errors_to_http, run_service
from qcare.core.listing import ChoiceFilter, Column, Listing, ModelFilter
from qcare.core.models import get_restricted_or_404

TABS = (("details", gettext_lazy("Details")), ("history", gettext_lazy("History")))
EDIT_FIELDS = (*ProductForm.base_fields, "is_active")
CATEGORY_EDIT_FIELDS = tuple(CategoryForm.base_fields)
YES_NO = (("1", gettext_lazy("Yes")), ("0", gettext_lazy("No")))
SESSION_KEY = "catalog_import"
#: The upload waits in the session between report and confirmation; catalogues are small.
MAX_SESSION_UPLOAD = 2 * 1024 * 1024


def _product(request, pk, action="view"):
    return get_restricted_or_404(Product.objects.select_related("category"), request.user, action, pk=pk)


class BoolFilter(ChoiceFilter):
    """Yes/no filter on a boolean field (ChoiceFilter compares strings)."""

    def apply(self, queryset, data):
        value = data.get(self.name)
        if value in ("1", "0"):
            return queryset.filter(**{self.field: value == "1"})
        return queryset


@permission_required("catalog.view")
def product_list(request):
    """Search code/name/model; filter category, standard, regulated, active; sort; paginate."""
    listing = Listing(
        request,
        Product.objects.restrict(request.user, "view").select_related("category"),
        search_fields=("code", "name", "model"),
        filters=[
            ModelFilter("category", _("Category"), ProductCategory.objects.all()),
            BoolFilter("is_standard", _("Standard product"), YES_NO),
            BoolFilter("is_regulated", _("Medical device"), YES_NO),
            BoolFilter("is_active", _("Active"), YES_NO),
        ],
        columns=[
            Column("code", _("Product code")),
            Column("name", _("Product name")),
            Column("model", _("Model / specification")),
            Column("category", _("Category"), sort="category__code"),
            Column("is_regulated", _("Medical device")),
            Column("registration_number", _("Registration / filing number")),
            Column("is_active", _("Active")),
        ],
        default_sort="code",
        row_template="catalog/_row.html",
        empty_message=_("No products match. Change the search or filters, or add a product."),
    )
    can_change = has_perm(request.user, "catalog.change")
    return listing.render("catalog/list.html", {"can_change": can_change, "nav_active": "catalog"})


@permission_required("catalog.change")
@require_http_methods(["GET", "POST"])
def product_create(request):
    form = ProductForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, product = run_service(form, services.create_product, request.user, **form.cleaned_data)
        if ok:
            messages.success(request, _("Product %(code)s was created.") % {"code": product.code})
            return redirect("catalog:detail", pk=product.pk)
    return render(request, "catalog/form.html", {"form": form, "nav_active": "catalog"})


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def product_edit(request, pk):
    """Edit with a reason; the version on the form detects a concurrent change."""
    product = _product(request, pk, "change")
    initial = {name: getattr(product, name) for name in EDIT_FIELDS} | {"version": product.version}
    form = ProductEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = {name: form.cleaned_data[name] for name in EDIT_FIELDS}
        ok, _result = run_service(
            form,
            services.update_product,
            request.user,
            product,
            data=data,
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(request, _("Your change was saved."))
            return redirect("catalog:detail", pk=product.pk)
    return render(request, "catalog/form.html", {"form": form, "record": product, "nav_active": "catalog"})


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def product_deactivate(request, pk):
    product = _product(request, pk, "change")
    form = DeactivateForm(request.POST or None, initial={"version": product.version})
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(form, _deactivate_checked, request.user, product, form.cleaned_data)
        if ok:
            messages.success(request, _("Product %(code)s was deactivated.") % {"code": product.code})
            return redirect("catalog:detail", pk=product.pk)
    return render(
        request, "catalog/deactivate.html", {"form": form, "record": product, "nav_active": "catalog"}
    )


def _deactivate_checked(actor, product, data):
    product.check_version(data.get("version"))
    services.deactivate_product(actor, product, reason=data["reason"])


@login_required
@domain_errors_to_http
def product_detail(request, pk):
    """The product page; ``?tab=`` picks the tab, htmx requests get only the tab panel."""
    product = _product(request, pk)
    tab = request.GET.get("tab", "details")
    if tab not in dict(TABS):
        tab = "details"
    can_change = has_perm(request.user, "catalog.change")
    context = {"record": product, "tab": tab, "tabs": TABS, "nav_active": "catalog", "can_change": can_change}
    if request.htmx and request.htmx.target == "qc-tab-panel":
        return render(request, "catalog/_tab.html", context)
    return render(request, "catalog/detail.html", context)


@permission_required("catalog.view")
def category_list(request):
    categories = ProductCategory.objects.restrict(request.user, "view").order_by("code")
    context = {
        "categories": categories,
        "can_change": has_perm(request.user, "catalog.change"),
        "nav_active": "catalog",
    }
    return render(request, "catalog/categories.html", context)


@permission_required("catalog.change")
@require_http_methods(["GET", "POST"])
def category_create(request):
    form = CategoryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        ok, _category = run_service(form, services.create_category, request.user, **form.cleaned_data)
        if ok:
            messages.success(request, _("The category was saved."))
            return redirect("catalog:categories")
    return render(request, "catalog/category_form.html", {"form": form, "nav_active": "catalog"})


@login_required
@require_http_methods(["GET", "POST"])
@domain_errors_to_http
def category_edit(request, pk):
    category = get_restricted_or_404(ProductCategory, request.user, "change", pk=pk)
    initial = {n: getattr(category, n) for n in CATEGORY_EDIT_FIELDS} | {"version": category.version}
    form = CategoryEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        ok, _result = run_service(
            form,
            services.update_category,
            request.user,
            category,
            data={n: form.cleaned_data[n] for n in CATEGORY_EDIT_FIELDS},
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data.get("version"),
        )
        if ok:
            messages.success(request, _("The category was saved."))
            return redirect("catalog:categories")
    context = {"form": form, "record": category, "nav_active": "catalog"}
    return render(request, "catalog/category_form.html", context)


@permission_required("catalog.change")
def import_template(request, fmt):
    """The template with Chinese headers, as xlsx or csv."""
    if fmt == "csv":
        response = HttpResponse(importexport.build_template_csv(), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            importexport.build_template_xlsx(),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="products-template.{fmt}"'
    return response


@permission_required("catalog.change")
@require_http_methods(["GET", "POST"])
def import_upload(request):
    """Step 1–2: upload, then the report of every error; nothing is written yet."""
    form = ImportForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > MAX_SESSION_UPLOAD:
            form.add_error("file", _("The file is too large; split it."))
        else:
            data = upload.read()
            try:
                report = importexport.import_file(request.user, data, upload.name, mode="validate")
            except DomainError as exc:
                form.add_error("file", str(exc))
            else:
                request.session[SESSION_KEY] = {"name": upload.name, "data": base64.b64encode(data).decode()}
                context = {"report": report, "file_name": upload.name, "nav_active": "catalog"}
                return render(request, "catalog/import_report.html", context)
    return render(request, "catalog/import.html", {"form": form, "nav_active": "catalog"})


@permission_required("catalog.change")
@require_http_methods(["POST"])
def import_commit(request):
    """Step 3: write all rows (only when none is bad) or, on request, the valid rows."""
    stored = request.session.pop(SESSION_KEY, None)
    if not stored:
        messages.error(request, _("The uploaded file has expired; upload it again."))
        return redirect("catalog:import")
    mode = "commit_valid" if request.POST.get("mode") == "commit_valid" else "commit"
    report = importexport.import_file(
        request.user, base64.b64decode(stored["data"]), stored["name"], mode=mode
    )
    if not report.committed:
        messages.error(request, _("Nothing was imported: some rows have errors."))
        return redirect("catalog:import")
    messages.success(request, _("%(count)d products were imported.") % {"count": len(report.created)})
    return redirect("catalog:list")


def register_ui():
    """Navigation entry of the catalogue (called from CatalogConfig.ready())."""
    ui.nav.register(
        "catalog", gettext_lazy("Product catalogue"), "catalog:list", permission="catalog.view", order=300
    )
