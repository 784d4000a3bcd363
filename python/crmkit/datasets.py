"""placeholder (local only)"""
