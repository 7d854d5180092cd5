"""Views of the test site: DRF views behind HasScopes, plain views behind require_token."""

from django.http import JsonResponse
from rest_framework.permissions import IsAdminUser, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from tokenkeep.django import HasScopes, require_token


def who(request) -> dict:
    token = request.auth
    return {
        "user": request.user.get_username(),
        "id": token.id,
        "owner": token.owner,
        "name": token.name,
        "scopes": sorted(token.scopes),
    }


class Devices(APIView):
    permission_classes = [HasScopes("device:read", POST="device:write")]

    def get(self, request):
        return Response(who(request))

    def post(self, request):
        return Response(who(request), status=201)


class Policies(APIView):
    permission_classes = [HasScopes(read="policy:read", write="policy:write")]

    def get(self, request):
        return Response(who(request))

    def delete(self, request):
        return Response(status=204)


class Fleet(APIView):
    """Per-method rules only: PUT, PATCH and DELETE have none, so they are refused."""

    permission_classes = [HasScopes(GET="device:read", POST="device:write")]

    def get(self, request):
        return Response(who(request))

    def post(self, request):
        return Response(who(request), status=201)

    def put(self, request):
        return Response(who(request))

    def patch(self, request):
        return Response(who(request))

    def delete(self, request):
        return Response(status=204)


class Both(APIView):
    permission_classes = [HasScopes("device:read policy:read")]

    def get(self, request):
        return Response(who(request))


class AnyToken(APIView):
    permission_classes = [HasScopes()]

    def get(self, request):
        return Response(who(request))


class StaffOnly(APIView):
    permission_classes = [HasScopes("device:read") & IsAdminUser]

    def get(self, request):
        return Response(who(request))


class LoggedIn(APIView):
    """DRF's own IsAuthenticated: the 401 challenge comes from TokenAuthentication."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"user": request.user.get_username()})


@require_token("device:read", POST="device:write")
def plain_devices(request):
    return JsonResponse(who(request), status=201 if request.method == "POST" else 200)


@require_token()
def plain_any(request, item):
    return JsonResponse({**who(request), "item": item})


@require_token("policy:read")
async def plain_async(request):
    return JsonResponse(who(request))


@require_token(GET="device:read", POST="device:write")
def plain_fleet(request):
    return JsonResponse(who(request), status=204 if request.method == "DELETE" else 200)
