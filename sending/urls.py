"""URLs of the sending area, under /a/<account_id>/."""

from django.urls import path

from sending.views import (
    batch,
    domains,
    egress,
    lists,
    messages,
    queue,
    senders,
    suppressions,
    tags,
    template_tests,
    tracking,
    unsubscribe,
    validation,
)

app_name = "sending"

A = "a/<str:account_id>/"

urlpatterns = [
    # On a template's page (templates_app), which knows nothing of sending.
    path(
        A + "templates/<str:template_id>/test/", template_tests.template_test_send, name="template_test_send"
    ),
    path(A + "domains/", domains.domain_list, name="domains"),
    path(A + "domains/new/", domains.domain_create, name="domain_create"),
    path(A + "domains/<str:domain_id>/", domains.domain_detail, name="domain_detail"),
    path(A + "domains/<str:domain_id>/check/", domains.domain_check, name="domain_check"),
    path(A + "domains/<str:domain_id>/status/", domains.domain_status, name="domain_status"),
    path(A + "domains/<str:domain_id>/dkim/rotate/", domains.dkim_rotate, name="dkim_rotate"),
    path(A + "domains/<str:domain_id>/dkim/<str:selector>/retire/", domains.dkim_retire, name="dkim_retire"),
    path(A + "domains/<str:domain_id>/delete/", domains.domain_delete, name="domain_delete"),
    path(A + "domains/<str:domain_id>/reports/", domains.domain_reports, name="domain_reports"),
    path(A + "senders/", senders.sender_list, name="sender_addresses"),
    path(A + "senders/new/", senders.sender_create, name="sender_create"),
    path(A + "senders/<str:sender_id>/", senders.sender_detail, name="sender_detail"),
    path(
        A + "senders/<str:sender_id>/smtp-password/",
        senders.sender_smtp_password,
        name="sender_smtp_password",
    ),
    path(A + "senders/<str:sender_id>/delete/", senders.sender_delete, name="sender_delete"),
    path(A + "tags/", tags.tag_list, name="tags"),
    path(A + "tags/<str:tag_id>/", tags.tag_edit, name="tag_edit"),
    path(A + "tags/<str:tag_id>/delete/", tags.tag_delete, name="tag_delete"),
    path(A + "lists/", lists.list_index, name="recipient_lists"),
    path(A + "lists/<str:list_id>/", lists.list_detail, name="recipient_list"),
    path(A + "lists/<str:list_id>/edit/", lists.list_edit, name="recipient_list_edit"),
    path(A + "lists/<str:list_id>/delete/", lists.list_delete, name="recipient_list_delete"),
    path(A + "lists/<str:list_id>/export.csv", lists.list_export, name="recipient_list_export"),
    path(A + "lists/<str:list_id>/sample.json", lists.list_sample, name="recipient_list_sample"),
    path(A + "lists/<str:list_id>/import/", lists.import_upload, name="recipient_import_upload"),
    path(A + "lists/<str:list_id>/remove/", lists.recipients_bulk_delete, name="recipients_bulk_delete"),
    path(A + "lists/<str:list_id>/validate/", validation.list_validate, name="recipient_list_validate"),
    path(A + "validation/", validation.validation_index, name="validation"),
    path(A + "validation/<str:file_id>/", validation.validation_detail, name="validation_detail"),
    path(A + "validation/<str:file_id>/status/", validation.validation_status, name="validation_status"),
    path(A + "validation/<str:file_id>/result.csv", validation.validation_result, name="validation_result"),
    path(A + "validation/<str:file_id>/delete/", validation.validation_delete, name="validation_delete"),
    path(
        A + "validation/<str:file_id>/remove-invalid/",
        validation.validation_remove_invalid,
        name="validation_remove_invalid",
    ),
    path(
        A + "lists/<str:list_id>/recipients/<str:recipient_id>/",
        lists.recipient_edit,
        name="recipient_edit",
    ),
    path(
        A + "lists/<str:list_id>/recipients/<str:recipient_id>/delete/",
        lists.recipient_delete,
        name="recipient_delete",
    ),
    path(A + "imports/<str:import_id>/", lists.import_detail, name="recipient_import"),
    path(A + "imports/<str:import_id>/columns/", lists.import_mapping, name="recipient_import_mapping"),
    path(A + "imports/<str:import_id>/status/", lists.import_status, name="recipient_import_status"),
    path(A + "imports/<str:import_id>/rejected.csv", lists.import_rejected, name="recipient_import_rejected"),
    path(A + "imports/<str:import_id>/cancel/", lists.import_cancel, name="recipient_import_cancel"),
    path(A + "batch/", batch.job_list, name="batch_jobs"),
    path(A + "batch/new/", batch.job_create, name="batch_job_create"),
    path(A + "batch/<str:job_id>/", batch.job_detail, name="batch_job"),
    path(A + "batch/<str:job_id>/edit/", batch.job_edit, name="batch_job_edit"),
    path(A + "batch/<str:job_id>/status/", batch.job_status, name="batch_job_status"),
    path(A + "batch/<str:job_id>/confirm/", batch.job_confirm, name="batch_job_confirm"),
    path(A + "batch/<str:job_id>/pause/", batch.job_pause, name="batch_job_pause"),
    path(A + "batch/<str:job_id>/resume/", batch.job_resume, name="batch_job_resume"),
    path(A + "batch/<str:job_id>/cancel/", batch.job_cancel, name="batch_job_cancel"),
    path(A + "batch/<str:job_id>/delete/", batch.job_delete, name="batch_job_delete"),
    path(A + "messages/", messages.message_list, name="messages"),
    path(A + "messages/send-test/", messages.test_send, name="test_send"),
    path(A + "messages/<str:message_id>/", messages.message_detail, name="message_detail"),
    path(A + "outbox/", messages.outbox, name="outbox"),
    path(A + "outbox/<str:message_id>/", messages.outbox_detail, name="outbox_detail"),
    path(A + "outbox/<str:message_id>/html/", messages.outbox_html, name="outbox_html"),
    path(A + "queue/", queue.queue_page, name="queue"),
    path(A + "queue/act/", queue.queue_act, name="queue_act"),
    path("staff/queue/", queue.staff_queue, name="staff_queue"),
    path("staff/queue/act/", queue.staff_queue_act, name="staff_queue_act"),
    path(A + "settings/dedicated-ips/", egress.dedicated_ips, name="dedicated_ips"),
    path(A + "settings/dedicated-ips/<str:resource_id>/", egress.dedicated_ip_detail, name="dedicated_ip"),
    path(
        A + "settings/dedicated-ips/<str:resource_id>/warmup/",
        egress.dedicated_ip_warmup,
        name="dedicated_ip_warmup",
    ),
    path(A + "settings/ip-pools/<str:pool_id>/", egress.ip_pool_edit, name="ip_pool_edit"),
    path(A + "settings/ip-pools/<str:pool_id>/delete/", egress.ip_pool_delete, name="ip_pool_delete"),
    path(A + "settings/config-sets/<str:set_id>/", egress.config_set_edit, name="config_set_edit"),
    path(A + "settings/config-sets/<str:set_id>/delete/", egress.config_set_delete, name="config_set_delete"),
    path(A + "suppressions/", suppressions.suppression_list, name="suppressions"),
    path(A + "suppressions/import/", suppressions.suppression_import, name="suppression_import"),
    path(A + "suppressions/export.csv", suppressions.suppression_export, name="suppression_export"),
    path(
        A + "suppressions/<str:suppression_id>/remove/",
        suppressions.suppression_remove,
        name="suppression_remove",
    ),
]

# Links that people follow from emails, without an account in the URL.
public_urlpatterns = [
    path("reply-to/verify/<str:token>/", senders.reply_to_verify, name="sending_reply_to_verify"),
    path("unsubscribe/<str:token>/", unsubscribe.unsubscribe_page, name="sending_unsubscribe"),
    path("t/o/<str:token>.gif", tracking.open_pixel, name="sending_track_open"),
    path("t/c/<int:message_id>/<str:signature>/", tracking.click, name="sending_track_click"),
    # GetValidateFile's FileUrl: a signed link to a validation result, for DOWNLOAD_HOURS.
    path("validation/<str:token>/result.csv", validation.file_download, name="validation_file_download"),
]
