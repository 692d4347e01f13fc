"""Generated-content assessment before release (Art. 4, 6; TC260-003 8, 9.3): question banks,
asking the model, judging its answers, and the ``assessed`` alias."""
