"""URLs of views_more.py: feedback register, CAPA, returns and settlements, advisory notices,
statistics, responsibility reports and penalties. ``complaints/urls.py`` includes these in the
"complaints" namespace (``path("", include(urls_more))``), so the names are ``complaints:<name>``."""

from django.urls import path

from qcare.complaints import views_more as v

urlpatterns = [
    # feedback register (R-CO-1)
    path("feedback/", v.feedback_list, name="feedback_list"),
    path("feedback/new/", v.feedback_create, name="feedback_create"),
    path("feedback/<int:pk>/", v.feedback_detail, name="feedback_detail"),
    path("feedback/<int:pk>/answer/", v.feedback_answer, name="feedback_answer"),
    path("feedback/<int:pk>/close/", v.feedback_close, name="feedback_close"),
    path("feedback/<int:pk>/to-complaint/", v.feedback_to_complaint, name="feedback_to_complaint"),
    path("feedback/<int:pk>/to-capa/", v.feedback_to_capa, name="feedback_to_capa"),
    path(
        "communications/<int:pk>/feedback/", v.feedback_from_communication, name="feedback_from_communication"
    ),
    # CAPA (R-CO-6)
    path("capas/", v.capa_list, name="capa_list"),
    path("capas/new/", v.capa_create, name="capa_create"),
    path("capas/from-repeats/<int:pk>/", v.capa_from_repeats, name="capa_from_repeats"),
    path("capas/<int:pk>/", v.capa_detail, name="capa_detail"),
    path("capas/<int:pk>/analysis/", v.capa_analysis, name="capa_analysis"),
    path("capas/<int:pk>/actions/new/", v.capa_action_add, name="capa_action_add"),
    path("capas/<int:pk>/submit/", v.capa_submit, name="capa_submit"),
    path("capas/<int:pk>/verify/", v.capa_verify, name="capa_verify"),
    path("capas/<int:pk>/cancel/", v.capa_cancel, name="capa_cancel"),
    path("capas/actions/<int:pk>/complete/", v.capa_action_complete, name="capa_action_complete"),
    path("capas/actions/<int:pk>/cancel/", v.capa_action_cancel, name="capa_action_cancel"),
    # returns and settlements (R-CO-7)
    path("returns/", v.return_list, name="return_list"),
    path("returns/export/", v.return_export, name="return_export"),
    path("<int:pk>/returns/new/", v.return_create, name="return_create"),
    path("returns/<int:pk>/", v.return_detail, name="return_detail"),
    path("returns/<int:pk>/receive/", v.return_receive, name="return_receive"),
    path("returns/<int:pk>/inspect/", v.return_inspect, name="return_inspect"),
    path("returns/<int:pk>/post/", v.return_post, name="return_post"),
    path("returns/<int:pk>/resolve/", v.return_resolve, name="return_resolve"),
    path("settlements/", v.settlement_list, name="settlement_list"),
    path("settlements/export/", v.settlement_export, name="settlement_export"),
    path("<int:pk>/settlements/new/", v.settlement_create, name="settlement_create"),
    path("settlements/<int:pk>/settle/", v.settlement_settle, name="settlement_settle"),
    path("settlements/<int:pk>/cancel/", v.settlement_cancel, name="settlement_cancel"),
    # advisory notices and recalls (R-CO-10)
    path("notices/", v.notice_list, name="notice_list"),
    path("notices/new/", v.notice_create, name="notice_create"),
    path("notices/<int:pk>/", v.notice_detail, name="notice_detail"),
    path("notices/<int:pk>/edit/", v.notice_edit, name="notice_edit"),
    path("notices/<int:pk>/issue/", v.notice_issue, name="notice_issue"),
    path("notices/<int:pk>/authority/", v.notice_authority, name="notice_authority"),
    path("notices/<int:pk>/close/", v.notice_close, name="notice_close"),
    path("notices/<int:pk>/cancel/", v.notice_cancel, name="notice_cancel"),
    path("notices/recipients/<int:pk>/", v.notice_recipient, name="notice_recipient"),
    path("notices/recipients/<int:pk>/letter/", v.notice_letter, name="notice_letter"),
    # statistics (R-CO-11), responsibility reports and penalties (R-CO-8)
    path("statistics/", v.statistics, name="statistics"),
    path("statistics/export/", v.statistics_export, name="statistics_export"),
    path("statistics/export.pdf", v.statistics_pdf, name="statistics_pdf"),
    path("reports/", v.responsibility_reports, name="responsibility_reports"),
    path("reports/<str:period>/", v.responsibility_report_detail, name="responsibility_report_detail"),
    path("penalties/", v.penalty_list, name="penalty_list"),
    path("penalties/new/", v.penalty_create, name="penalty_create"),
]
