"""Reservation (H01-H04): ReserveNow, CancelReservation, ReservationStatusUpdate, expiry."""
