"""The summary as JSON: these serializers are both the output and its OpenAPI schema."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from reports.metrics import Summary


class ReportTallySerializer(serializers.Serializer):
    key = serializers.CharField(help_text="A priority, category, service slug or team slug ('' for no team).")
    name = serializers.CharField(source="label", help_text="What the key means, in the reader's language.")
    count = serializers.IntegerField()


class ReportBucketSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day of the day, week (Monday) or month, in the report's zone.")
    count = serializers.IntegerField()
    by_priority = serializers.DictField(child=serializers.IntegerField())


class DurationStatsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Incidents measured.")
    mean_seconds = serializers.FloatField(source="mean", allow_null=True)
    median_seconds = serializers.FloatField(source="median", allow_null=True)
    p90_seconds = serializers.FloatField(source="p90", allow_null=True)


class ResponseTimesSerializer(serializers.Serializer):
    acknowledge = DurationStatsSerializer(help_text="Reported → acknowledged (MTTA).")
    mitigate = DurationStatsSerializer(help_text="Reported → service restored (mitigated, or resolved).")
    resolve = DurationStatsSerializer(help_text="Reported → resolved (MTTR).")


class ServiceAvailabilitySerializer(serializers.Serializer):
    service = serializers.CharField(source="slug")
    name = serializers.CharField()
    incidents = serializers.IntegerField(help_text="Incidents whose impact touched the period.")
    downtime_seconds = serializers.FloatField(help_text="Overlapping incidents counted once.")
    availability_percent = serializers.FloatField()


class SlaOutcomeSerializer(serializers.Serializer):
    priority = serializers.CharField()
    clock = serializers.CharField(source="kind", help_text="acknowledge (response) or resolve (resolution).")
    met = serializers.IntegerField()
    breached = serializers.IntegerField()
    running = serializers.IntegerField(help_text="Not met and not breached yet.")
    compliance_percent = serializers.FloatField(allow_null=True, help_text="met / (met + breached); null when neither.")


class SlaBreachSerializer(serializers.Serializer):
    number = serializers.CharField()
    title = serializers.CharField()
    priority = serializers.CharField()
    clock = serializers.CharField(source="kind")
    due_at = serializers.DateTimeField(allow_null=True)
    breached_at = serializers.DateTimeField()


class ReportPeriodSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    time_zone = serializers.CharField(source="zone.key")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(help_text="The first moment after the period.")


class SlaComplianceSerializer(serializers.Serializer):
    response_compliance_percent = serializers.FloatField(allow_null=True)
    resolution_compliance_percent = serializers.FloatField(allow_null=True)
    outcomes = SlaOutcomeSerializer(many=True)
    breach_count = serializers.IntegerField()
    breaches = SlaBreachSerializer(many=True, help_text="The latest 100 breaches, newest first.")


class SummarySerializer(serializers.Serializer):
    period = ReportPeriodSerializer()
    filters = serializers.SerializerMethodField()
    generated_at = serializers.DateTimeField()
    total = serializers.IntegerField(help_text="Incidents reported in the period (cancelled ones left out).")
    by_priority = ReportTallySerializer(many=True)
    by_category = ReportTallySerializer(many=True)
    by_service = ReportTallySerializer(many=True)
    by_team = ReportTallySerializer(many=True)
    interval = serializers.ChoiceField(choices=["day", "week", "month"])
    over_time = ReportBucketSerializer(many=True)
    response_times = ResponseTimesSerializer()
    response_times_by_priority = serializers.DictField(child=ResponseTimesSerializer())
    downtime_seconds = serializers.FloatField(
        help_text="Service downtime: each service's, overlapping incidents counted once, added up."
    )
    availability = ServiceAvailabilitySerializer(many=True)
    sla = serializers.SerializerMethodField()
    affected_users = serializers.IntegerField()
    recurring_services = ReportTallySerializer(many=True, help_text="Services with two or more incidents, most first.")
    reopened = serializers.IntegerField()
    reopen_rate_percent = serializers.FloatField(allow_null=True)
    action_items_open = serializers.IntegerField(help_text="Post-mortem follow-ups still open or in progress.")
    action_items_overdue = serializers.IntegerField()

    @extend_schema_field(serializers.DictField(child=serializers.ListField(child=serializers.CharField())))
    def get_filters(self, summary: Summary) -> dict[str, list[str]]:
        return summary.filters.as_query()

    @extend_schema_field(SlaComplianceSerializer)
    def get_sla(self, summary: Summary) -> dict[str, object]:
        return SlaComplianceSerializer(
            {
                "response_compliance_percent": summary.sla_compliance("acknowledge"),
                "resolution_compliance_percent": summary.sla_compliance("resolve"),
                "outcomes": summary.sla,
                "breach_count": summary.breach_count,
                "breaches": summary.breaches,
            }
        ).data


class ComparedSummarySerializer(SummarySerializer):
    previous = SummarySerializer(allow_null=True, help_text="The period of the same length before, with `compare=1`.")
