"""Router aggregation."""

from fastapi import APIRouter

from resume_service.api.routes import health, jobs, resumes

api_router = APIRouter()
api_router.include_router(health.router)
api_router.include_router(resumes.router)
api_router.include_router(jobs.router)
