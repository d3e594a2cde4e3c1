"""Alert intake: monitoring tools open, update and clear incidents through integrations."""
