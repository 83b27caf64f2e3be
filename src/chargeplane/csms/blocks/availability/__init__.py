"""Availability (G01-G05): station, EVSE and connector status, StatusNotification, NotifyEvent, ChangeAvailability."""
